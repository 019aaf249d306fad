package device

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/vault"
)

// ReportSendOptions are the inputs of "device report send".
type ReportSendOptions struct {
	F *cmdutil.Factory
	NetFlags
	File string
}

// NewCmdReportSend returns "device report send".
func NewCmdReportSend(f *cmdutil.Factory, runF func(*ReportSendOptions) error) *cobra.Command {
	opts := &ReportSendOptions{F: f}
	cmd := &cobra.Command{
		Use:   "send --server <addr> --key <key.pem> <report.json>",
		Short: "Send a provisioning report to a keysmith server as the device",
		Long: `Send a provisioning report (the JSON "device report apply" reads; "-" is
standard input) to "keysmith serve", authenticated with the device's key
over mutual TLS (or, with --auth challenge --device-id ID, by a device
session from a signed challenge, as "device login" describes). The server applies it exactly as "device report apply"
does: once per request_id (the same report again is "already applied", a
different one with that request_id is refused), AMT and MEBx password rules
enforced, and only for the device's own UUID. The report is checked here
first, so a malformed one never leaves the device.

Exit status: 0 applied or already applied; 2 an invalid report or usage
error; 7 refused (another device's UUID, a request_id applied with another
report, an unknown or revoked key); 5 no device with --device-id; 3 a wrong
passphrase; 1 the server could not be reached.`,
		Example: `  $ keysmith device report send --server keysmith.example:8443 --key device.key.pem report.json
  keysmith: applied report req-7f3a: AMT_PASSWORD v1, WIFI_PSK v1`,
		Args: cmdutil.ExactArgs(1, "report.json"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			if err := opts.check(f); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return reportSendRun(opts)
		},
	}
	addNetFlags(cmd, &opts.NetFlags)
	return cmd
}

func reportSendRun(opts *ReportSendOptions) error {
	f := opts.F
	data, err := readInput(f, opts.File, "report", vault.MaxReportSize)
	if err != nil {
		return err
	}
	defer clear(data)
	if _, err := vault.ParseReport(strings.NewReader(string(data))); err != nil {
		return cmdutil.WithHint(&cmdutil.UsageError{Err: fmt.Errorf("%q: %w", opts.File, err)}, "the report format is in docs/device.md; nothing was sent")
	}
	c, err := opts.client(f)
	if err != nil {
		return err
	}
	defer c.Close()
	res, err := c.ReportProvisioning(f.Ctx(), data)
	if err != nil {
		return opts.fail(err)
	}
	names := make([]string, 0, len(res.Secrets))
	for n := range res.Secrets {
		names = append(names, n)
	}
	slices.Sort(names)
	if f.JSON() {
		type sec struct {
			Name    string `json:"name"`
			Version int    `json:"version"`
		}
		out := struct {
			Status    string `json:"status"`
			RequestID string `json:"request_id"`
			Secrets   []sec  `json:"secrets"`
		}{Status: res.Status, RequestID: res.RequestID, Secrets: []sec{}}
		for _, n := range names {
			out.Secrets = append(out.Secrets, sec{n, res.Secrets[n]})
		}
		return f.PrintJSON(out)
	}
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s v%d", n, res.Secrets[n])
	}
	if res.Status == "already_applied" {
		f.IO.Infof("report %s was already applied: nothing changed", res.RequestID)
		return nil
	}
	f.IO.Infof("applied report %s: %s", res.RequestID, strings.Join(parts, ", "))
	return nil
}
