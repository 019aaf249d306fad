package device

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/devicecred"
	"github.com/keysmith/keysmith/pkg/vault"
)

// ReportApplyOptions are the inputs of "device report apply".
type ReportApplyOptions struct {
	F    *cmdutil.Factory
	File string
}

// NewCmdReportApply returns "device report apply".
func NewCmdReportApply(f *cmdutil.Factory, runF func(*ReportApplyOptions) error) *cobra.Command {
	opts := &ReportApplyOptions{F: f}
	return &cobra.Command{
		Use:   "apply <file.json>",
		Short: "Store a provisioning report's secrets on its device, once",
		Long: `Store every secret of a provisioning report (- for standard input) as a new
version of that device secret, on the device whose hardware UUID the report
names, and record its request_id, all in one transaction.

Applying the same report again succeeds ("already applied") and changes
nothing; a different report with a request_id already applied is refused
(exit 1); a device_uuid no device of the tenant has is not found (exit 5); a
malformed report is exit 2. The schema is in docs/device.md.`,
		Example: `  $ keysmith device report apply report-7f3a.json
  keysmith: applied report 7f3a... to device web-01: 2 secrets (AMT_PASSWORD, MEBX_PASSWORD)`,
		Args: cmdutil.ExactArgs(1, "file.json"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			if runF != nil {
				return runF(opts)
			}
			return reportApplyRun(opts)
		},
	}
}

func reportApplyRun(opts *ReportApplyOptions) error {
	f := opts.F
	data, err := readInput(f, opts.File, "report", vault.MaxReportSize)
	if err != nil {
		return err
	}
	rep, err := vault.ParseReport(bytes.NewReader(data))
	clear(data)
	if errors.Is(err, devicecred.ErrAMTPassword) {
		return cmdutil.WithHint(fmt.Errorf("%q: %w", opts.File, err), amtRulesHint)
	} else if err != nil {
		return fmt.Errorf("%q: %w", opts.File, err)
	}
	v, err := f.Vault()
	if err != nil {
		return err
	}
	defer v.Close()
	res, err := v.ApplyReport(f.Ctx(), f.Config.Tenant, rep)
	if err != nil {
		if errors.Is(err, vault.ErrReportConflict) {
			return cmdutil.WithHint(err, "a report is applied once per request_id; a new provisioning run needs a new request_id")
		}
		if errors.Is(err, vault.ErrNoDevice) {
			return cmdutil.WithHint(err, "provision or enrol the device with --uuid first; list devices with: keysmith device ls")
		}
		return deviceHint(err, f)
	}
	if f.JSON() {
		return f.PrintJSON(res)
	}
	if res.AlreadyApplied {
		f.IO.Infof("report %s was already applied at %s; nothing changed", res.RequestID, res.AppliedAt)
		return nil
	}
	f.IO.Infof("applied report %s to device %s: %s (%s)", res.RequestID, res.Device, cmdutil.Plural(len(res.Secrets), "secret"), strings.Join(res.Secrets, ", "))
	return nil
}
