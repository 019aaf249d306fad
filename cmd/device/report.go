package device

import (
	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
)

// NewCmdReport returns the "device report" group.
func NewCmdReport(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "report <command>",
		Short: "Apply provisioning reports from a provisioning agent",
		Long: `A provisioning report is a JSON file a provisioning agent writes after
configuring a device: a request_id, the device_uuid and the secrets it
generated. The schema is in docs/device.md.`,
		Args: cmdutil.NoArgsGroup,
		RunE: cmdutil.ShowHelp,
	}
	cmd.AddCommand(NewCmdReportApply(f, nil), NewCmdReportSend(f, nil))
	return cmd
}
