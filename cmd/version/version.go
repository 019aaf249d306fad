// Package version implements "keysmith version".
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
)

// Info is what "keysmith version --output json" prints.
type Info struct {
	Version   string `json:"version"`
	GoVersion string `json:"go_version"`
	Platform  string `json:"platform"`
	Commit    string `json:"commit,omitempty"`
}

// NewCmdVersion returns "keysmith version".
func NewCmdVersion(f *cmdutil.Factory) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:         "version",
		Short:       "Print keysmith's version",
		Args:        cmdutil.NoArgs,
		Annotations: map[string]string{"skipConfig": "true"},
		RunE: func(cmd *cobra.Command, args []string) error {
			output, _ = cmd.Flags().GetString("output")
			if !cmd.Flags().Changed("output") && f.Getenv("KEYSMITH_OUTPUT") != "" {
				output = f.Getenv("KEYSMITH_OUTPUT")
			}
			info := Info{Version: f.Version, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
			if bi, ok := debug.ReadBuildInfo(); ok {
				for _, s := range bi.Settings {
					if s.Key == "vcs.revision" {
						info.Commit = s.Value
					}
				}
			}
			switch output {
			case "json":
				return cmdutil.WriteJSON(f.IO.Out, info)
			case "text", "":
				_, err := fmt.Fprintf(f.IO.Out, "keysmith %s (%s, %s)\n", info.Version, info.GoVersion, info.Platform)
				return err
			}
			return cmdutil.Usagef("--output must be text or json, not %q", output)
		},
	}
	return cmd
}
