package key

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/keysource"
	"github.com/keysmith/keysmith/pkg/masterkey"
)

// maxImport bounds what "key import" reads: a key file is a few lines.
const maxImport = 1 << 20

// ImportOptions are the inputs of "key import".
type ImportOptions struct {
	F        *cmdutil.Factory
	Env      string // for a file that holds a bare key
	File     string
	Identity string
}

// ImportResult is one environment of "key import --output json".
type ImportResult struct {
	Env     string   `json:"env"`
	KeyID   string   `json:"key_id"`
	Added   []string `json:"added_key_ids"`
	KeyFile string   `json:"key_file"`
}

// NewCmdImport returns "key import".
func NewCmdImport(f *cmdutil.Factory, runF func(*ImportOptions) error) *cobra.Command {
	opts := &ImportOptions{F: f}
	cmd := &cobra.Command{
		Use:   "import <file> [-i <identity>]",
		Short: "Add a teammate's exported key to your key file",
		Long: `Add the keys of a file written by "keysmith key export" (key-file lines, or an
age file, armored or binary) to the key file each environment's key comes from
(--key-file, a file APP_KEY_SYSVAR names, or the default key file, created
with mode 0600). An age file opens with -i/--identity (an age identity file)
or a passphrase (KEYSMITH_PASSPHRASE, a hidden prompt, or standard input).
<file> "-" reads standard input. A file holding only a key is for the selected
environment (-e).

Never replaces a key: an environment that already has a different current key
is refused, and nothing is written. Keys already present are skipped.

Exit status: 0 imported (or nothing new), 1 a different key exists or the key
comes from somewhere keysmith cannot write, 2 not a key file, 3 wrong
passphrase or identity, 5 no such file, 7 insecure key file.`,
		Example: `  $ keysmith key import dev-key.age
  keysmith: imported the dev key (ID 3f9c0a6e1b2d4c58) into /home/me/.config/keysmith/keys`,
		Args: cmdutil.ExactArgs(1, "file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Env, opts.File = f.Config.Env, args[0]
			if runF != nil {
				return runF(opts)
			}
			return importRun(opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Identity, "identity", "i", "", "age identity file that opens an age-encrypted export")
	return cmd
}

func importRun(opts *ImportOptions) error {
	f := opts.F
	data, err := readImport(f, opts.File)
	if err != nil {
		return err
	}
	if cmdutil.IsAge(data) {
		if data, err = f.OpenAge(opts.File, data, opts.Identity, maxImport); err != nil {
			return err
		}
	}
	in, err := masterkey.ParseFile(data, opts.File)
	if err != nil {
		return err
	}
	// The environments and their keys, current first.
	type imported struct {
		env     string
		current masterkey.Key
		retired []masterkey.Key
	}
	var envs []*imported
	byEnv := map[string]*imported{}
	if k, _, single := in.Single(); single {
		envs = []*imported{{env: opts.Env, current: k}}
	} else {
		for _, e := range in.Entries() {
			im := byEnv[e.Env]
			if im == nil {
				im = &imported{env: e.Env}
				byEnv[e.Env] = im
				envs = append(envs, im)
			}
			if e.Retired {
				im.retired = append(im.retired, e.Key)
			} else {
				im.current = e.Key
			}
		}
	}
	if len(envs) == 0 {
		return fmt.Errorf("%q holds no key", opts.File)
	}
	// Where each environment's keys go, and whether they fit, before
	// anything is written.
	paths := make([]string, len(envs))
	for i, im := range envs {
		loc, err := f.KeyFileFor(im.env, "import a key")
		if err != nil {
			return err
		}
		paths[i] = loc.Path
		if loc.Source.Kind == keysource.KindDefaultFile {
			if err := keysource.MakeDir(loc.Path); err != nil {
				return err
			}
		}
		kf, err := keysource.LoadOrEmpty(loc.Path)
		if err != nil {
			return keyFileHint(err)
		}
		if err := fits(kf, im.env, im.current, loc.Path); err != nil {
			return err
		}
	}
	var results []ImportResult
	for i, im := range envs {
		r := ImportResult{Env: im.env, Added: []string{}, KeyFile: paths[i]}
		if _, err := keysource.Update(paths[i], func(kf *masterkey.File) error {
			if err := fits(kf, im.env, im.current, paths[i]); err != nil {
				return err
			}
			if im.current.Valid() {
				r.KeyID = im.current.ID().String()
				if _, ok := kf.Current(im.env); !ok {
					if err := kf.Add(im.env, im.current); err != nil {
						return err
					}
					r.Added = append(r.Added, r.KeyID)
				}
			}
			for _, k := range im.retired {
				if _, ok := kf.Find(k.ID()); ok {
					continue
				}
				if err := kf.AddRetired(im.env, k); err != nil {
					return err
				}
				r.Added = append(r.Added, k.ID().String())
			}
			return nil
		}); err != nil {
			return keyFileHint(err)
		}
		results = append(results, r)
	}
	if f.JSON() {
		return f.PrintJSON(results)
	}
	for _, r := range results {
		switch {
		case len(r.Added) == 0:
			f.IO.Infof("%s already has key %s; nothing to import", r.Env, r.KeyID)
		case r.KeyID != "" && r.Added[0] == r.KeyID:
			what := fmt.Sprintf("the %s key (ID %s)", r.Env, r.KeyID)
			if n := len(r.Added) - 1; n > 0 {
				what += " and " + cmdutil.Plural(n, "retired key")
			}
			f.IO.Infof("imported %s into %s", what, r.KeyFile)
		default:
			f.IO.Infof("imported %s of %s into %s", cmdutil.Plural(len(r.Added), "retired key"), r.Env, r.KeyFile)
		}
	}
	return nil
}

// fits refuses a current key for an environment that already has another
// one: import adds keys, it never replaces one.
func fits(kf *masterkey.File, env string, k masterkey.Key, path string) error {
	if !k.Valid() {
		return nil
	}
	if cur, ok := kf.Current(env); ok && !cur.Equal(k) {
		return cmdutil.WithHint(fmt.Errorf("%s already has another key (ID %s) in %q; the imported one is %s", env, cur.ID(), path, k.ID()),
			fmt.Sprintf("key import never replaces a key: if nothing is sealed under %s, delete its line from %q and import again", cur.ID(), path))
	}
	if e, ok := kf.Find(k.ID()); ok && e.Retired {
		return fmt.Errorf("the imported %s key %s is in %q as a retired key of %s (line %d)", env, k.ID(), path, e.Env, e.Line)
	}
	return nil
}

func readImport(f *cmdutil.Factory, name string) ([]byte, error) {
	var r io.Reader = f.IO.In
	if name != "-" {
		fh, err := os.Open(name)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%q: %w", name, cmdutil.ErrNotFound)
		} else if err != nil {
			return nil, err
		}
		defer fh.Close()
		r = fh
	}
	data, err := io.ReadAll(io.LimitReader(r, maxImport+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxImport {
		return nil, fmt.Errorf("%q is larger than %d bytes: not a key export", name, maxImport)
	}
	return data, nil
}

// keyFileHint adds "chmod 600" to an insecure key file error.
func keyFileHint(err error) error {
	var insecure *keysource.InsecureError
	if errors.As(err, &insecure) {
		return cmdutil.WithHint(err, fmt.Sprintf("chmod 600 %q", insecure.Path))
	}
	return err
}
