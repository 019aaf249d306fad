package device

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/devicecred"
	"github.com/keysmith/keysmith/pkg/passphrase"
	"github.com/keysmith/keysmith/pkg/vault"
)

// ProvisionOptions are the inputs of "device provision".
type ProvisionOptions struct {
	F              *cmdutil.Factory
	Role           string
	Name           string
	Device         string
	UUID           string
	Out            string
	Words          int
	PassphraseFile string

	// Batch mode (Count > 0).
	Count      int
	NamePrefix string
	OutDir     string

	beforeCommit func() // tests: runs after the files are written, before the transaction
}

// NewCmdProvision returns "device provision".
func NewCmdProvision(f *cmdutil.Factory, runF func(*ProvisionOptions) error) *cobra.Command {
	opts := &ProvisionOptions{F: f}
	cmd := &cobra.Command{
		Use: "provision --role <role> {--name <name> | --device <device>} [--uuid <uuid>] [--out <file>] [--words <n>] [--passphrase-file <file>]\n" +
			"  keysmith device provision --role <role> --count <n> --name-prefix <prefix> --out-dir <dir>",
		Short: "Mint a device keypair and hand the private key out once, sealed",
		Long: `Mint an ECDSA P-256 keypair for a new device (--name, with an optional
hardware --uuid such as the AMT UUID) or one more key for an existing device
(--device: its ID, name or UUID). A different --role changes the device's
role and revokes its active keys at other roles in the same transaction,
audited: a device holds keys at its current role only. The vault stores only the public key (DER SPKI) and its
fingerprint, as an active key at the role: valid at once.

The private key (PKCS#8 PEM) is written once, as a binary age file with one
scrypt recipient (work factor 18, about 1 s) under a fresh passphrase of
--words words (default 4, at least 4) from the EFF large wordlist joined with
"-". It opens with "keysmith device reveal" or "age -d". The file is --out,
default <name>-<role>-<first 12 hex of fingerprint>.pem.age, created 0600;
an existing file is an error. "--out -" writes it to standard output, which
must not be a terminal.

The passphrase is shown once and stored nowhere:
  - with --passphrase-file FILE it is written to a new 0600 file;
  - else with --output json it is in the JSON on standard output;
  - else on a terminal it is printed on standard error with a warning;
  - else (standard error is not a terminal) the command refuses to run, so
    a passphrase never lands in a CI log by accident.

Batch: --count N --name-prefix P --out-dir DIR provisions N new devices
(names P001, P002, ... after the highest number already used), sealing in
parallel on all cores (each scrypt uses 256 MiB), and writes DIR/manifest.json
(0600), which holds every passphrase: deliver and then delete it.

In every failure nothing is written: neither the vault nor any file.`,
		Example: `  $ keysmith device provision --role server --name web-01 --uuid 4c4c4544-0042-3510-8052-b3c04f4a4e32
  keysmith: provisioned device web-01 (dev_5d0c3a9e1b7f2468) at role server
  keysmith: wrote "web-01-server-3f2a9c81d0e4.pem.age"
  keysmith: warning: the passphrase is shown once and stored nowhere; write it down now:

      unpaved-hazard-quartet-sprung

  $ keysmith device provision --role releaser --device web-01 --output json --out rel.pem.age
  $ keysmith device provision --role server --count 8 --name-prefix edge- --out-dir ./edge`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			batch := cmd.Flags().Changed("count")
			if err := opts.validate(batch); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			if batch {
				return provisionBatchRun(opts)
			}
			return provisionRun(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Role, "role", "", "role of the key: server, releaser, backup-restore or a configured one")
	fl.StringVar(&opts.Name, "name", "", "name of a new device")
	fl.StringVar(&opts.Device, "device", "", "existing device (ID, name or UUID) to add a key to")
	fl.StringVar(&opts.UUID, "uuid", "", "hardware UUID of the new device (unique in the tenant)")
	fl.StringVarP(&opts.Out, "out", "o", "", "sealed key file (default <name>-<role>-<fingerprint12>.pem.age; - for stdout)")
	fl.IntVar(&opts.Words, "words", passphrase.DefaultWords, "words in the passphrase (at least 4)")
	fl.StringVar(&opts.PassphraseFile, "passphrase-file", "", "write the passphrase to this new 0600 file instead of showing it")
	fl.IntVar(&opts.Count, "count", 0, "batch: number of new devices")
	fl.StringVar(&opts.NamePrefix, "name-prefix", "", "batch: device name prefix")
	fl.StringVar(&opts.OutDir, "out-dir", "", "batch: directory for the sealed key files and manifest.json")
	return cmd
}

// MaxBatch bounds --count.
const MaxBatch = 10000

func (o *ProvisionOptions) validate(batch bool) error {
	f := o.F
	if err := checkRole(f, o.Role); err != nil {
		return err
	}
	if o.Words < passphrase.MinWords || o.Words > passphrase.MaxWords {
		return cmdutil.Usagef("--words must be %d to %d, not %d", passphrase.MinWords, passphrase.MaxWords, o.Words)
	}
	if batch {
		switch {
		case o.Count < 1 || o.Count > MaxBatch:
			return cmdutil.Usagef("--count must be 1 to %d, not %d", MaxBatch, o.Count)
		case o.NamePrefix == "" || o.OutDir == "":
			return cmdutil.Usagef("--count needs --name-prefix and --out-dir")
		case o.Name != "" || o.Device != "" || o.UUID != "" || o.Out != "" || o.PassphraseFile != "":
			return cmdutil.Usagef("--count cannot be used with --name, --device, --uuid, --out or --passphrase-file (the manifest holds the passphrases)")
		case !vault.ValidDeviceName(o.NamePrefix + "1"):
			return cmdutil.Usagef("--name-prefix %q does not make valid device names (letters, digits and _.-)", o.NamePrefix)
		}
		return nil
	}
	if o.NamePrefix != "" || o.OutDir != "" {
		return cmdutil.Usagef("--name-prefix and --out-dir need --count")
	}
	if (o.Name == "") == (o.Device == "") {
		return cmdutil.Usagef("give exactly one of --name (a new device) or --device (an existing one)")
	}
	if o.UUID != "" && o.Device != "" {
		return cmdutil.Usagef("--uuid names the hardware of a new device: it cannot be used with --device")
	}
	if o.Out == "-" {
		if f.IO.OutTTY {
			return cmdutil.WithHint(cmdutil.Usagef("refusing to write a sealed key to a terminal"), "use --out FILE, or redirect standard output to a file")
		}
		if f.JSON() {
			return cmdutil.Usagef("--out - and --output json both write to standard output: choose one")
		}
	}
	if o.PassphraseFile == "-" {
		return cmdutil.WithHint(cmdutil.Usagef("--passphrase-file - is not standard output: it writes a new file"),
			"to get the passphrase on standard output use --output json; on a terminal it is shown on standard error")
	}
	if o.PassphraseFile == "" && !f.JSON() && !f.IO.ErrTTY {
		return cmdutil.WithHint(cmdutil.Usagef("standard error is not a terminal: refusing to print the passphrase where it may be logged"),
			"write it to a new 0600 file with --passphrase-file FILE",
			"or get it in the JSON on standard output with --output json")
	}
	if o.PassphraseFile != "" && o.PassphraseFile == o.Out {
		return cmdutil.Usagef("--passphrase-file and --out must be different files")
	}
	return nil
}

// sealedKey is one minted keypair, its private half sealed.
type sealedKey struct {
	spki        []byte
	fingerprint string
	passphrase  string
	sealed      []byte
}

// mint makes a keypair and returns its public half; seal seals the private
// half. They are separate so that the batch can mint in order and seal in
// parallel.
type mintedKey struct {
	pem  []byte
	spki []byte
}

func mint() (*mintedKey, error) {
	priv, err := devicecred.Generate()
	if err != nil {
		return nil, err
	}
	spki, err := devicecred.SPKI(&priv.PublicKey)
	if err != nil {
		return nil, err
	}
	pem, err := devicecred.PrivatePEM(priv)
	if err != nil {
		return nil, err
	}
	return &mintedKey{pem: pem, spki: spki}, nil
}

func (m *mintedKey) seal(words int) (*sealedKey, error) {
	defer clear(m.pem)
	pass, err := passphrase.Generate(words)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := devicecred.SealPEM(&buf, m.pem, pass, scryptWorkFactor); err != nil {
		return nil, err
	}
	return &sealedKey{spki: m.spki, fingerprint: devicecred.Fingerprint(m.spki), passphrase: pass, sealed: buf.Bytes()}, nil
}

// defaultKeyFile is <name>-<role>-<first 12 hex of fingerprint>.pem.age.
func defaultKeyFile(name, role, fingerprint string) string {
	return fmt.Sprintf("%s-%s-%s.pem.age", name, role, fingerprint[:12])
}

func provisionRun(opts *ProvisionOptions) error {
	f := opts.F
	v, err := f.Vault()
	if err != nil {
		return err
	}
	defer v.Close()
	req := vault.KeyRequest{Device: opts.Device, Name: opts.Name, UUID: opts.UUID, Role: opts.Role, Origin: vault.KeyProvisioned}
	plan, err := v.CheckDeviceKeys(f.Ctx(), f.Config.Tenant, []vault.KeyRequest{req})
	if err != nil {
		return deviceHint(err, f)
	}
	m, err := mint()
	if err != nil {
		return err
	}
	fp := devicecred.Fingerprint(m.spki)
	out := opts.Out
	if out == "" {
		out = defaultKeyFile(plan[0].Name, opts.Role, fp)
	}
	if out != "-" {
		if err := mustNotExist(out, "output file", nothingStored); err != nil {
			return err
		}
	}
	if opts.PassphraseFile != "" {
		if err := mustNotExist(opts.PassphraseFile, "passphrase file", nothingStored); err != nil {
			return err
		}
	}
	sk, err := m.seal(opts.Words)
	if err != nil {
		return err
	}

	// Files first (O_EXCL), then the transaction; a failed transaction
	// removes the files, so a failure leaves neither.
	var written []string
	cleanup := func() {
		for _, p := range written {
			os.Remove(p)
		}
	}
	if out != "-" {
		if err := writeNew(out, sk.sealed, "output file", nothingStored); err != nil {
			return err
		}
		written = append(written, out)
	}
	if opts.PassphraseFile != "" {
		if err := writeNew(opts.PassphraseFile, []byte(sk.passphrase+"\n"), "passphrase file", nothingStored); err != nil {
			cleanup()
			return err
		}
		written = append(written, opts.PassphraseFile)
	}
	req.SPKI = sk.spki
	if opts.beforeCommit != nil {
		opts.beforeCommit()
	}
	res, err := v.AddDeviceKeys(f.Ctx(), f.Config.Tenant, []vault.KeyRequest{req})
	if err != nil {
		cleanup()
		return deviceHint(err, f)
	}
	r := res[0]
	if out == "-" {
		if _, err := f.IO.Out.Write(sk.sealed); err != nil {
			return cmdutil.WithHint(fmt.Errorf("writing the sealed key to standard output: %w", err),
				fmt.Sprintf("key %s was stored but its private half is lost: revoke it with: keysmith device revoke %s", r.KeyID, r.KeyID))
		}
	}

	if f.JSON() {
		doc := map[string]any{"tenant": f.Config.Tenant, "device": r.Name, "device_id": r.DeviceID, "key_id": r.KeyID,
			"role": r.Role, "fingerprint": r.Fingerprint, "file": out, "new_device": r.NewDevice}
		if r.UUID != "" {
			doc["uuid"] = r.UUID
		}
		if r.PrevRole != "" {
			doc["previous_role"] = r.PrevRole
			doc["revoked_keys"] = append([]string{}, r.RevokedKeys...)
		}
		if opts.PassphraseFile != "" {
			doc["passphrase_file"] = opts.PassphraseFile
		} else {
			doc["passphrase"] = sk.passphrase
		}
		return f.PrintJSON(doc)
	}
	what := "provisioned device"
	if !r.NewDevice {
		what = "added a key to device"
	}
	f.IO.Infof("%s %s (%s) at role %s", what, r.Name, r.DeviceID, r.Role)
	if r.PrevRole != "" {
		f.IO.Infof("device %s changed role: %s -> %s", r.Name, r.PrevRole, r.Role)
		if len(r.RevokedKeys) > 0 {
			f.IO.Infof("revoked its %s at role %s: %s", cmdutil.Plural(len(r.RevokedKeys), "active key"), r.PrevRole, strings.Join(r.RevokedKeys, ", "))
		}
	}
	f.IO.Infof("key %s, fingerprint %s", r.KeyID, r.Fingerprint)
	if out != "-" {
		f.IO.Infof("wrote %q; open it on the device with: keysmith device reveal FILE (or age -d FILE)", out)
	}
	if opts.PassphraseFile != "" {
		f.IO.Infof("wrote the passphrase to %q: deliver it apart from the key file, then delete it", opts.PassphraseFile)
		return nil
	}
	// Shown once, on the terminal, even with --quiet: it exists nowhere else.
	fmt.Fprintf(f.IO.ErrOut, "keysmith: warning: the passphrase is shown once and stored nowhere; write it down now:\n\n    %s\n\n", sk.passphrase)
	return nil
}
