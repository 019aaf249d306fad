package key

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/keysource"
)

// ListOptions are the inputs of "key list".
type ListOptions struct {
	F *cmdutil.Factory
}

// KeyInfo is one row of "key list".
type KeyInfo struct {
	Env    string `json:"env"`
	KeyID  string `json:"key_id"`
	Status string `json:"status"` // current or retired
	Source string `json:"source"`
}

// NewCmdList returns "key list".
func NewCmdList(f *cmdutil.Factory, runF func(*ListOptions) error) *cobra.Command {
	opts := &ListOptions{F: f}
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List environments, key IDs and where each key comes from",
		Long: `List the master keys keysmith can see: every key in the key file the selected
environment's key comes from, and that environment's key if it comes from
elsewhere (an environment variable or a key command). Key IDs are fingerprints that reveal nothing about
the keys; keys themselves are never printed.`,
		Example: `  $ keysmith key list
  ENV   KEY ID            STATUS   SOURCE
  dev   3f9c0a6e1b2d4c58  current  default key file /home/me/.config/keysmith/keys`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return listRun(opts)
		},
	}
}

func listRun(opts *ListOptions) error {
	f := opts.F
	var rows []KeyInfo
	seen := map[string]bool{}
	// The key file listed is the one the selected environment's key comes
	// from (--key-file, a file APP_KEY_SYSVAR names, the default key file).
	loc, err := f.KeyLocation(f.Config.Env)
	if err != nil {
		return err
	}
	if loc.IsFile() {
		kf, err := keysource.ReadFile(loc.Path)
		switch {
		case err == nil:
			src := loc.Source.String()
			if _, _, single := kf.Single(); single {
				break // its key is listed below, for the selected environment
			}
			for _, e := range kf.Entries() {
				status := "current"
				if e.Retired {
					status = "retired"
				}
				rows = append(rows, KeyInfo{Env: e.Env, KeyID: e.Key.ID().String(), Status: status, Source: src})
				seen[e.Env+" "+e.Key.ID().String()] = true
			}
		case errors.Is(err, fs.ErrNotExist) && loc.Source.Kind == keysource.KindDefaultFile:
		default:
			var insecure *keysource.InsecureError
			if errors.As(err, &insecure) {
				return cmdutil.WithHint(err, fmt.Sprintf("chmod 600 %q", insecure.Path))
			}
			return err
		}
	}
	// The selected environment may resolve from a source other than the file.
	if res, err := f.Keys(f.Config.Env, cmdutil.NoCreate); err == nil && !seen[f.Config.Env+" "+res.Current.ID().String()] {
		rows = append(rows, KeyInfo{Env: f.Config.Env, KeyID: res.Current.ID().String(), Status: "current", Source: res.Source.String()})
	}
	if f.JSON() {
		if rows == nil {
			rows = []KeyInfo{}
		}
		return f.PrintJSON(rows)
	}
	if len(rows) == 0 {
		f.IO.Infof("no keys found; create one with: keysmith key generate --env dev")
		return nil
	}
	t := cmdutil.NewTable(f.IO.Out, "ENV", "KEY ID", "STATUS", "SOURCE")
	for _, r := range rows {
		t.Row(r.Env, r.KeyID, r.Status, r.Source)
	}
	return t.Flush()
}
