package vault

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"filippo.io/age"
	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/atomicfile"
	passphrasegen "github.com/keysmith/keysmith/pkg/passphrase"
	"github.com/keysmith/keysmith/pkg/vault"
	"github.com/keysmith/keysmith/pkg/vault/store"
	"github.com/keysmith/keysmith/pkg/vault/store/storecopy"
)

// ExportOptions are the inputs of "vault export".
type ExportOptions struct {
	F          *cmdutil.Factory
	Output     string
	Recipients []string
	Force      bool
	Format     string
}

// NewCmdExport returns "vault export".
func NewCmdExport(f *cmdutil.Factory, runF func(*ExportOptions) error) *cobra.Command {
	opts := &ExportOptions{F: f}
	cmd := &cobra.Command{
		Use:   "export -o <file.age> [-r <recipient>]...",
		Short: "Write an age-encrypted backup of every tenant and version",
		Long: `Write a backup of the vault to an age-encrypted file
(https://age-encryption.org), for the age recipients given with -r, or else
for a passphrase: KEYSMITH_PASSPHRASE, a hidden prompt on a terminal (asked
twice), or standard input. A passphrase needs at least 12 characters: use
four or more random words (the error for a shorter one suggests one). An
existing file is not replaced without --force. The backup is always written
with mode 0600, also over an existing file of another mode.

--format v2 (the default) writes a complete backup: every row of the vault
as stored (tenants, data keys, every version of every secret, devices, device
keys and secrets, reports, service tokens, grants, access requests, stubs,
the settings and the audit chain), still sealed. The vault is verified first
(as vault verify does) and the export is recorded in its audit chain. Such a
backup restores only with the master key of the vault it came from, into a
new vault of the same environment, where it is the same vault again: keep
both the key and the passphrase or identity.

--format v1 writes the opened values of every version of every secret of
every tenant and nothing else (a warning counts what is left out). It does
not depend on the master key: vault restore seals the values afresh under the
new vault's key, so it moves secrets to a vault under another key. Keep it as
safe as the key.`,
		Example: `  $ keysmith vault export -o vault-2026-05.age -r age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p
  $ KEYSMITH_PASSPHRASE=... keysmith vault export -o backup.age`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Output == "" {
				return cmdutil.Usagef("-o/--output-file is required")
			}
			if opts.Format != "v1" && opts.Format != "v2" {
				return cmdutil.Usagef("--format %q: want v2 or v1", opts.Format)
			}
			if runF != nil {
				return runF(opts)
			}
			return exportRun(opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Output, "output-file", "o", "", "backup file to write")
	cmd.Flags().StringArrayVarP(&opts.Recipients, "recipient", "r", nil, "age recipient (repeatable); default: a passphrase")
	cmd.Flags().BoolVar(&opts.Force, "force", false, "replace an existing backup file")
	cmd.Flags().StringVar(&opts.Format, "format", "v2", "backup format: v2 (complete, needs the vault's master key to restore) or v1 (secret values only)")
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"v2\tcomplete: every row, sealed", "v1\tsecret values only"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func exportRun(opts *ExportOptions) error {
	f := opts.F
	if _, err := os.Stat(opts.Output); err == nil && !opts.Force {
		return cmdutil.WithHint(fmt.Errorf("%q already exists", opts.Output), "use --force to replace it")
	}
	recips, err := recipients(f, opts.Recipients)
	if err != nil {
		return err
	}
	v, err := f.Vault()
	if err != nil {
		return err
	}
	defer v.Close()
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, recips...)
	if err != nil {
		return err
	}
	if opts.Format == "v2" {
		snap, err := completeBackup(f, v, opts.Output, w)
		if err != nil {
			return err
		}
		if err := writeBackupFile(opts, buf.Bytes()); err != nil {
			return err
		}
		versions := len(snap.Secrets)
		if f.JSON() {
			return f.PrintJSON(map[string]any{"file": opts.Output, "format": storecopy.BackupFormat, "tenants": len(snap.Tenants), "versions": versions,
				"rows": snap.Rows(), "not_included": []vault.Omitted{}})
		}
		f.IO.Infof("wrote %s (%s of %s, %s, %s, %s) to %q", cmdutil.Plural(snap.Rows(), "row"),
			cmdutil.Plural(versions, "version"), cmdutil.Plural(len(snap.Tenants), "tenant"), cmdutil.Plural(len(snap.Devices), "device"),
			cmdutil.Plural(len(snap.Tokens), "token"), cmdutil.Plural(len(snap.Audit), "audit row"), opts.Output)
		return nil
	}
	b, err := v.Export(f.Ctx())
	if err != nil {
		return f.SecretHint(err)
	}
	omitted, err := v.NotInBackup(f.Ctx())
	if err != nil {
		return err
	}
	if _, err := b.WriteTo(w); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	if err := writeBackupFile(opts, buf.Bytes()); err != nil {
		return err
	}
	n := 0
	for _, t := range b.Tenants {
		n += len(t.Secrets)
	}
	if len(omitted) > 0 {
		parts := make([]string, len(omitted))
		for i, o := range omitted {
			parts[i] = cmdutil.Plural(o.Count, o.What)
		}
		f.IO.Warnf("the backup does not include %s: they stay only in %q; a complete backup (--format v2) keeps them", strings.Join(parts, ", "), v.Path())
	}
	if f.JSON() {
		if omitted == nil {
			omitted = []vault.Omitted{}
		}
		return f.PrintJSON(map[string]any{"file": opts.Output, "format": vault.BackupFormat, "tenants": len(b.Tenants), "versions": n, "not_included": omitted})
	}
	f.IO.Infof("wrote %s of %s to %q", cmdutil.Plural(n, "version"), cmdutil.Plural(len(b.Tenants), "tenant"), opts.Output)
	return nil
}

// writeBackupFile writes the encrypted backup: a new file, or with --force
// a replaced one, 0600 either way.
func writeBackupFile(opts *ExportOptions, data []byte) error {
	if opts.Force {
		return atomicfile.ReplaceFile(opts.Output, data, 0o600) // never the old file's mode
	}
	return atomicfile.CreateExclusive(opts.Output, data, 0o600)
}

// completeBackup writes a v2 backup of v to w and closes w: the vault is
// verified, the export recorded in its chain, and every row then read in
// one snapshot (which holds the export's own audit row).
func completeBackup(f *cmdutil.Factory, v *vault.Vault, file string, w io.WriteCloser) (*storecopy.Snapshot, error) {
	ctx := f.Ctx()
	if _, probs, err := verifyVault(ctx, v); err != nil {
		return nil, err
	} else if len(probs) > 0 {
		err := fmt.Errorf("vault %q does not verify, so no backup was written: %w: %s: %s", v.Path(), vault.ErrTampered, probs[0].What, probs[0].Error)
		return nil, cmdutil.WithHint(err, "vault verify lists every problem; a backup from before the damage restores with: keysmith vault restore --vault NEW.db BACKUP.age")
	}
	if err := v.AppendAudit(ctx, "export", "", file, true, "complete backup ("+storecopy.BackupFormat+")"); err != nil {
		return nil, err
	}
	snap, err := storecopy.Read(ctx, v.Store(), nil)
	if err != nil {
		return nil, err
	}
	b := &storecopy.Backup{Format: storecopy.BackupFormat, Env: v.Env(), VaultID: fmt.Sprintf("%x", snap.Meta[store.MetaVaultID]),
		ExportedAt: f.Now().UTC().Format(time.RFC3339), ExportedBy: f.Caller().Actor, Vault: snap}
	if err := storecopy.WriteBackup(w, b); err != nil {
		return nil, err
	}
	return snap, w.Close()
}

// MinPassphrase is the fewest characters "vault export" accepts in a
// backup passphrase: the backup is exposed to offline guessing, so a
// short one protects nothing. Four random words are more than this.
const MinPassphrase = 12

func recipients(f *cmdutil.Factory, rs []string) ([]age.Recipient, error) {
	if len(rs) > 0 {
		parsed, err := age.ParseRecipients(strings.NewReader(strings.Join(rs, "\n")))
		if err != nil {
			return nil, &cmdutil.UsageError{Err: fmt.Errorf("-r: %w", err)}
		}
		return parsed, nil
	}
	pass, err := passphrase(f, true)
	if err != nil {
		return nil, err
	}
	if n := utf8.RuneCountInString(pass); n < MinPassphrase {
		err := &cmdutil.UsageError{Err: fmt.Errorf("the backup passphrase has %d characters, want at least %d", n, MinPassphrase)}
		hints := []string{"use four or more random words, or encrypt to an age recipient with -r (age-keygen makes one)"}
		if gen, gerr := passphrasegen.Generate(passphrasegen.DefaultWords); gerr == nil {
			hints = append(hints, "for example this one, just generated: "+gen)
		}
		return nil, cmdutil.WithHint(err, hints...)
	}
	r, err := age.NewScryptRecipient(pass)
	if err != nil {
		return nil, err
	}
	return []age.Recipient{r}, nil
}

// passphrase reads the backup passphrase (cmdutil.AgePassphrase).
func passphrase(f *cmdutil.Factory, confirm bool) (string, error) {
	return f.AgePassphrase("Backup passphrase: ", "-r/--recipient (export) or -i/--identity (restore)", confirm)
}
