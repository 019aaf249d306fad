package vault

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/vault"
)

// AuditOptions are the inputs of "vault audit".
type AuditOptions struct {
	F          *cmdutil.Factory
	Since      string
	Action     string
	ExpectHead string // audit verify: a head MAC (hex) recorded elsewhere
}

// NewCmdAudit returns "vault audit" and its "verify".
func NewCmdAudit(f *cmdutil.Factory, runF func(*AuditOptions) error) *cobra.Command {
	opts := &AuditOptions{F: f}
	cmd := &cobra.Command{
		Use:   "audit [--since <time>] [--action <action>] [--output json]",
		Short: "Show the audit trail; audit verify checks its chain",
		Long: `Show who did what to which secret, and when: every read and write of secret
material and every failed unlock. Rows never hold values. With --output json,
one JSON object per line (timestamp, level, service, secret_id, service_name,
success, ...), ready to ship to Loki or any log stack.

--since takes an RFC 3339 time, a date (2026-05-01) or a duration back from
now (24h). Actions: ` + vault.Actions() + `.
No key is needed to read the trail; "vault audit verify" needs it.`,
		Example: `  $ keysmith vault audit --since 24h --action get
  $ keysmith vault audit --output json | promtail --stdin`,
		Args: cmdutil.NoArgsGroup,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return auditRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Since, "since", "", "only rows at or after this time")
	cmd.Flags().StringVar(&opts.Action, "action", "", "only rows of this action")
	cmd.AddCommand(NewCmdAuditVerify(f, nil))
	return cmd
}

func parseSince(s string, now time.Time) (string, error) {
	if s == "" {
		return "", nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d).UTC().Format(vault.TimeLayout), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC().Format(vault.TimeLayout), nil
		}
	}
	return "", cmdutil.Usagef("--since %q is not a time (2026-05-01, 2026-05-01T12:00:00Z) or a duration (24h)", s)
}

// AuditLine is one audit row as a JSON log line.
type AuditLine struct {
	Timestamp   string `json:"timestamp"`
	Level       string `json:"level"`
	Service     string `json:"service"`
	SecretID    string `json:"secret_id"`
	ServiceName string `json:"service_name"`
	Success     bool   `json:"success"`
	IPAddress   string `json:"ip_address"`
	UserAgent   string `json:"user_agent"`
	Actor       string `json:"actor"`
	Action      string `json:"action"`
	Tenant      string `json:"tenant"`
	Object      string `json:"object"`
	Detail      string `json:"detail,omitempty"`
	Seq         int64  `json:"seq"`
	Keyed       bool   `json:"keyed"`
	Env         string `json:"env"`
}

// secretActions name a secret in their object: the secret reads and
// writes, stubs and service-access decisions (issue 10 item 14).
var secretActions = map[string]bool{"put": true, "get": true, "rm": true, "purge": true, "stub": true,
	"access-request": true, "access-approve": true, "access-deny": true, "access-grant": true, "access-revoke": true}

// Line converts an audit record to its JSON log line.
func Line(r vault.AuditRecord, env string) AuditLine {
	level := "info"
	if !r.Success {
		level = "warn"
	}
	id := ""
	if secretActions[r.Action] && r.Tenant != "" && !strings.HasPrefix(r.Object, "request ") {
		id = r.Tenant + "/" + r.Object
	}
	ip, ua := r.IPAddress, r.UserAgent
	if ip == "" && ua == "" { // rows written before schema 6: the CLI was the only writer
		ip, ua = "local", "keysmith (cli)"
	}
	return AuditLine{Timestamp: r.Timestamp, Level: level, Service: "keysmith-vault", SecretID: id,
		ServiceName: r.ServiceName(), // the service a decision was about; "" for operator rows (the operator is the actor)
		Success:     r.Success, IPAddress: ip, UserAgent: ua, Actor: r.Actor, Action: r.Action, Tenant: r.Tenant, Object: r.Object, Detail: r.Detail,
		Seq: r.Seq, Keyed: r.Keyed, Env: env}
}

func auditRun(opts *AuditOptions) error {
	f := opts.F
	since, err := parseSince(opts.Since, f.Now())
	if err != nil {
		return err
	}
	v, err := f.LockedVault()
	if err != nil {
		return err
	}
	defer v.Close()
	// Stream the rows (300,000 of them must not be held as records) into a
	// buffered writer: one write per 64 KiB, not one per cell.
	out := bufio.NewWriterSize(f.IO.Out, 64<<10)
	filter := vault.AuditFilter{Since: since, Action: opts.Action}
	if f.JSON() {
		enc := json.NewEncoder(out)
		enc.SetEscapeHTML(false)
		env := v.Env()
		if err := v.AuditEach(f.Ctx(), filter, func(r vault.AuditRecord) error { return enc.Encode(Line(r, env)) }); err != nil {
			return err
		}
		return out.Flush()
	}
	t := cmdutil.NewTable(out, "SEQ", "TIME", "ACTOR", "ACTION", "TENANT", "OBJECT", "OK", "DETAIL")
	err = v.AuditEach(f.Ctx(), filter, func(r vault.AuditRecord) error {
		ok := "yes"
		if !r.Success {
			ok = "NO"
		}
		t.Row(strconv.FormatInt(r.Seq, 10), r.Timestamp[:min(19, len(r.Timestamp))]+"Z", r.Actor, r.Action, orDash(r.Tenant), r.Object, ok, r.Detail)
		return nil
	})
	if err != nil {
		return err
	}
	if err := t.Flush(); err != nil {
		return err
	}
	return out.Flush()
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}

// NewCmdAuditVerify returns "vault audit verify".
func NewCmdAuditVerify(f *cmdutil.Factory, runF func(*AuditOptions) error) *cobra.Command {
	opts := &AuditOptions{F: f}
	cmd := &cobra.Command{
		Use:   "verify [--expect-head <hex>]",
		Short: "Check the audit chain; exit 3 and name the first bad row if it was tampered with",
		Long: `Recompute the audit chain with the vault's key. A row edited, deleted,
reordered, or added without the key fails verification: the command exits 3
and names the first bad row. Failed unlocks are written without the key; the
ones after the last keyed row are reported as unverified (the next keyed row
covers them), not as tampering. The head printed at the end can be kept
elsewhere to detect a rollback of the whole file: --expect-head HEX checks that
a head recorded earlier is still in the chain (exit 3 when rows after it were
cut or the vault was rolled back to before it).

It also checks the MAC of every authorisation row, but not whether the rows
agree with the chain: an older, validly MACed row put back (a revoked token,
grant or device key, a removed device) or a deleted newest version of a
secret passes here. "keysmith vault verify" checks that too, and that every
value opens.`,
		Example: `  $ keysmith vault audit verify
  $ keysmith vault audit verify --expect-head 9f2c...e1`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return auditVerifyRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.ExpectHead, "expect-head", "", "a head MAC (hex) recorded earlier that must still be in the chain")
	return cmd
}

func auditVerifyRun(opts *AuditOptions) error {
	f := opts.F
	v, err := f.Vault()
	if err != nil {
		return err
	}
	defer v.Close()
	if err := v.CheckIntegrity(f.Ctx()); err != nil {
		return cmdutil.OpenHint(err, v.Path())
	}
	res, err := v.VerifyAudit(f.Ctx())
	if err != nil {
		if vault.IsAuditError(err) {
			return cmdutil.WithHint(fmt.Errorf("vault %q: %w", v.Path(), err),
				"the audit table was changed outside keysmith; compare with a backup or your log stack")
		}
		return err
	}
	if opts.ExpectHead != "" {
		mac, herr := hex.DecodeString(opts.ExpectHead)
		if herr != nil || len(mac) != 32 {
			return cmdutil.Usagef("--expect-head %q is not a head MAC (64 hex digits, as audit verify prints it)", opts.ExpectHead)
		}
		seq, err := v.AuditHasHead(f.Ctx(), mac)
		if err != nil {
			return err
		}
		if seq == 0 {
			return cmdutil.WithHint(fmt.Errorf("vault %q: %w: the expected head %s is not in the chain: rows after it were cut, or the vault was rolled back to before it",
				v.Path(), vault.ErrAuditTampered, opts.ExpectHead), "compare with a backup or your log stack")
		}
	}
	if f.JSON() {
		return f.PrintJSON(res)
	}
	fmt.Fprintf(f.IO.Out, "audit chain ok: %s verified", cmdutil.Plural(res.Verified, "row"))
	if res.Unverified > 0 {
		fmt.Fprintf(f.IO.Out, ", %d trailing failed unlock(s) unverified", res.Unverified)
	}
	fmt.Fprintf(f.IO.Out, "\nhead: row %d, MAC %s\n", res.HeadSeq, res.HeadMAC)
	return nil
}
