package vault

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"unicode/utf8"

	"filippo.io/age"
	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/atomicfile"
	passphrasegen "github.com/keysmith/keysmith/pkg/passphrase"
	"github.com/keysmith/keysmith/pkg/vault"
)

// ExportOptions are the inputs of "vault export".
type ExportOptions struct {
	F          *cmdutil.Factory
	Output     string
	Recipients []string
	Force      bool
}

// NewCmdExport returns "vault export".
func NewCmdExport(f *cmdutil.Factory, runF func(*ExportOptions) error) *cobra.Command {
	opts := &ExportOptions{F: f}
	cmd := &cobra.Command{
		Use:   "export -o <file.age> [-r <recipient>]...",
		Short: "Write an age-encrypted backup of every tenant and version",
		Long: `Write every version of every secret of every tenant to an age-encrypted file
(https://age-encryption.org), for the age recipients given with -r, or else
for a passphrase: KEYSMITH_PASSPHRASE, a hidden prompt on a terminal (asked
twice), or standard input. A passphrase needs at least 12 characters: use
four or more random words (the error for a shorter one suggests one). The
backup does not depend on the master key: keep the passphrase or identity as
safe as the key. An existing file is not replaced without --force. The backup
is always written with mode 0600, also over an existing file of another mode.

The backup holds the tenants and every version of every secret. It does not
hold the audit trail, devices, device keys and secrets, service tokens,
grants, access requests or stubs: a warning counts the ones left out.`,
		Example: `  $ keysmith vault export -o vault-2026-05.age -r age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p
  $ KEYSMITH_PASSPHRASE=... keysmith vault export -o backup.age`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Output == "" {
				return cmdutil.Usagef("-o/--output-file is required")
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
	b, err := v.Export(f.Ctx())
	if err != nil {
		return f.SecretHint(err)
	}
	omitted, err := v.NotInBackup(f.Ctx())
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, recips...)
	if err != nil {
		return err
	}
	if _, err := b.WriteTo(w); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	if opts.Force {
		err = atomicfile.ReplaceFile(opts.Output, buf.Bytes(), 0o600) // never the old file's mode
	} else {
		err = atomicfile.CreateExclusive(opts.Output, buf.Bytes(), 0o600)
	}
	if err != nil {
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
		f.IO.Warnf("the backup does not include %s: they stay only in %q; back up the vault file itself to keep them", strings.Join(parts, ", "), v.Path())
	}
	if f.JSON() {
		if omitted == nil {
			omitted = []vault.Omitted{}
		}
		return f.PrintJSON(map[string]any{"file": opts.Output, "tenants": len(b.Tenants), "versions": n, "not_included": omitted})
	}
	f.IO.Infof("wrote %s of %s to %q", cmdutil.Plural(n, "version"), cmdutil.Plural(len(b.Tenants), "tenant"), opts.Output)
	return nil
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
