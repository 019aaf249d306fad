package amt

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
)

// CertAllowOptions are the inputs of "amt cert allow" and "amt cert disallow".
type CertAllowOptions struct {
	F       *cmdutil.Factory
	Name    string
	Devices []string
	Roles   []string
	Remove  bool
}

// NewCmdCertAllow returns "amt cert allow", or "amt cert disallow" with remove.
func NewCmdCertAllow(f *cmdutil.Factory, runF func(*CertAllowOptions) error, remove bool) *cobra.Command {
	opts := &CertAllowOptions{F: f, Remove: remove}
	verb, short, long := "allow", "Limit a certificate to named devices or roles", `Limit who may get activation signatures with the certificate over the network:
the devices (ID, name or hardware UUID) and roles given are added to its
allowed list. A certificate with an empty list may be used by any
authenticated device of the tenant; one with a list only by the devices on it
and the devices at a role on it. A device refused gets PermissionDenied and an
audit row. Operators ("keysmith amt sign") are not limited.`
	example := `  $ keysmith amt cert allow intel-prov --role kiosk
  $ keysmith amt cert allow intel-prov --device kiosk-7 --device 0f8fad5b-d9cb-469f-a165-70867728950e`
	if remove {
		verb, short, long = "disallow", "Remove devices or roles from a certificate's allowed list", `Remove the devices and roles given from the certificate's allowed list. When
the list becomes empty, any authenticated device of the tenant may use the
certificate again.`
		example = `  $ keysmith amt cert disallow intel-prov --role kiosk`
	}
	cmd := &cobra.Command{
		Use:     verb + " <name> {--device <device> | --role <role>}...",
		Short:   short,
		Long:    long + exitCodes,
		Example: example,
		Args:    cmdutil.ExactArgs(1, "name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if len(opts.Devices) == 0 && len(opts.Roles) == 0 {
				return cmdutil.Usagef("give at least one --device or --role")
			}
			if runF != nil {
				return runF(opts)
			}
			return certAllowRun(opts)
		},
	}
	cmd.Flags().StringArrayVar(&opts.Devices, "device", nil, "a device: ID, name or hardware UUID (repeatable)")
	cmd.Flags().StringArrayVar(&opts.Roles, "role", nil, "a device role (repeatable)")
	return cmd
}

func certAllowRun(opts *CertAllowOptions) error {
	f := opts.F
	v, err := f.Vault()
	if err != nil {
		return err
	}
	defer v.Close()
	info, err := v.AllowAMTCert(f.Ctx(), f.Config.Tenant, opts.Name, opts.Devices, opts.Roles, opts.Remove)
	if err != nil {
		return amtHint(err, f)
	}
	if f.JSON() {
		return f.PrintJSON(info)
	}
	if len(info.Allowed) == 0 {
		f.IO.Infof("AMT certificate %s may be used by any device of tenant %s", info.Name, info.Tenant)
		return nil
	}
	f.IO.Infof("AMT certificate %s may be used by: %s", info.Name, strings.Join(info.Allowed, " "))
	return nil
}
