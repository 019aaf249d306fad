package secrets

import (
	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/value"
)

// LsOptions are the inputs of "secrets ls".
type LsOptions struct {
	F    *cmdutil.Factory
	File string
}

// LsEntry is one row of "secrets ls"; it never holds a value.
type LsEntry struct {
	Name      string `json:"name"`
	Line      int    `json:"line"`
	Secret    bool   `json:"secret"`
	Encrypted bool   `json:"encrypted"`
	Env       string `json:"env,omitempty"`
	KeyID     string `json:"key_id,omitempty"`
	Legacy    bool   `json:"legacy,omitempty"`
	Malformed bool   `json:"malformed,omitempty"`
	Inherited bool   `json:"inherited,omitempty"` // a bare NAME line: the value comes from the environment
}

// NewCmdLs returns "secrets ls".
func NewCmdLs(f *cmdutil.Factory, runF func(*LsOptions) error) *cobra.Command {
	opts := &LsOptions{F: f}
	return &cobra.Command{
		Use:     "ls <file>",
		Aliases: []string{"list"},
		Short:   "List the variables of a .env file: encrypted or not, environment; never values",
		Example: `  $ keysmith secrets ls env_dev.env
  NAME            LINE  SECRET  STATE      ENV  KEY ID
  API_KEY_SECRET  3     yes     encrypted  dev  3f9c0a6e1b2d4c58
  LOG_LEVEL       4     no      plaintext`,
		Args: cmdutil.ExactArgs(1, "file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			if runF != nil {
				return runF(opts)
			}
			return lsRun(opts)
		},
	}
}

func lsRun(opts *LsOptions) error {
	f := opts.F
	ef, err := cmdutil.ReadEnvFile(opts.File)
	if err != nil {
		return err
	}
	m, err := f.Matcher()
	if err != nil {
		return err
	}
	rows := []LsEntry{}
	for _, e := range ef.Entries() {
		r := LsEntry{Name: e.Name, Line: e.Line, Secret: m.IsSecret(e.Name), Inherited: e.Inherit}
		if value.IsEncrypted(e.Value) {
			r.Encrypted = true
			if p, err := value.Parse(e.Value); err == nil {
				r.Env, r.Legacy = p.Env, p.Legacy
				if !p.Legacy {
					r.KeyID = p.KeyID.String()
				}
			} else {
				r.Malformed = true
			}
		}
		rows = append(rows, r)
	}
	if f.JSON() {
		return f.PrintJSON(rows)
	}
	t := cmdutil.NewTable(f.IO.Out, "NAME", "LINE", "SECRET", "STATE", "ENV", "KEY ID")
	for _, r := range rows {
		state, secret, kid := "plaintext", "no", r.KeyID
		if r.Encrypted {
			state = "encrypted"
		}
		if r.Inherited {
			state = "inherited"
		}
		if r.Secret {
			secret = "yes"
		}
		if r.Legacy {
			state, kid = "encrypted", "legacy"
		}
		if r.Malformed {
			state = "malformed"
		}
		t.Row(r.Name, itoa(r.Line), secret, state, r.Env, kid)
	}
	return t.Flush()
}
