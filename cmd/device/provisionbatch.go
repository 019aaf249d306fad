package device

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/devicecred"
	"github.com/keysmith/keysmith/pkg/vault"
)

// ManifestFormat is the "format" field of a batch manifest.
const ManifestFormat = "keysmith-device-manifest/v1"

// ManifestName is the batch manifest's file name in --out-dir.
const ManifestName = "manifest.json"

// Manifest is the 0600 JSON file a batch writes: it holds the passphrases.
type Manifest struct {
	Format    string          `json:"format"`
	Tenant    string          `json:"tenant"`
	Role      string          `json:"role"`
	CreatedAt string          `json:"created_at"`
	Devices   []ManifestEntry `json:"devices"`
}

// ManifestEntry is one device of a batch.
type ManifestEntry struct {
	Device      string `json:"device"`
	DeviceID    string `json:"device_id"`
	KeyID       string `json:"key_id"`
	Role        string `json:"role"`
	Fingerprint string `json:"fingerprint"`
	File        string `json:"file"` // relative to the manifest's directory
	Passphrase  string `json:"passphrase"`
}

// batchWorkers is how many keys are sealed at once: one per core the Go
// runtime may use (GOMAXPROCS, which follows the CPU affinity mask and
// cgroup limits), at most n.
func batchWorkers(n int) int {
	return max(1, min(runtime.GOMAXPROCS(0), n))
}

// batchNames returns count names prefix<N>, N following the highest number
// already used after prefix in the tenant, zero-padded to 3 digits.
func batchNames(existing []vault.DeviceInfo, prefix string, count int) []string {
	start := 1
	for _, d := range existing {
		if rest, ok := strings.CutPrefix(d.Name, prefix); ok {
			if n, err := strconv.Atoi(rest); err == nil && n >= start {
				start = n + 1
			}
		}
	}
	names := make([]string, count)
	for i := range names {
		names[i] = fmt.Sprintf("%s%03d", prefix, start+i)
	}
	return names
}

func provisionBatchRun(opts *ProvisionOptions) error {
	f := opts.F
	v, err := f.Vault()
	if err != nil {
		return err
	}
	defer v.Close()
	existing, err := v.Devices(f.Ctx(), f.Config.Tenant, "")
	if err != nil {
		return deviceHint(err, f)
	}
	names := batchNames(existing, opts.NamePrefix, opts.Count)
	reqs := make([]vault.KeyRequest, opts.Count)
	for i, n := range names {
		reqs[i] = vault.KeyRequest{Name: n, Role: opts.Role, Origin: vault.KeyProvisioned}
	}
	if _, err := v.CheckDeviceKeys(f.Ctx(), f.Config.Tenant, reqs); err != nil {
		return deviceHint(err, f)
	}
	manifestPath := filepath.Join(opts.OutDir, ManifestName)
	if err := mustNotExist(manifestPath, "manifest", nothingStored); err != nil {
		return err
	}

	// Mint in order (fast), then seal in parallel (scrypt: about 1 s and
	// 256 MiB each).
	minted := make([]*mintedKey, opts.Count)
	files := make([]string, opts.Count)
	for i := range minted {
		if minted[i], err = mint(); err != nil {
			return err
		}
		files[i] = defaultKeyFile(names[i], opts.Role, fingerprintOf(minted[i]))
		if err := mustNotExist(filepath.Join(opts.OutDir, files[i]), "output file", nothingStored); err != nil {
			return err
		}
	}
	sealed, err := sealAll(f, minted, opts.Words)
	if err != nil {
		return err
	}

	entries := make([]ManifestEntry, opts.Count)
	for i, sk := range sealed {
		if reqs[i].DeviceID, err = vault.NewDeviceID(f.Rand); err != nil {
			return err
		}
		if reqs[i].KeyID, err = vault.NewKeyID(f.Rand); err != nil {
			return err
		}
		reqs[i].SPKI = sk.spki
		entries[i] = ManifestEntry{Device: names[i], DeviceID: reqs[i].DeviceID, KeyID: reqs[i].KeyID, Role: opts.Role,
			Fingerprint: sk.fingerprint, File: files[i], Passphrase: sk.passphrase}
	}
	man := Manifest{Format: ManifestFormat, Tenant: f.Config.Tenant, Role: opts.Role, CreatedAt: f.Now().UTC().Format(vault.TimeLayout), Devices: entries}
	manJSON, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return err
	}

	// Files first (O_EXCL), then one transaction; a failure removes every
	// file written, so it leaves nothing.
	createdDir := false
	if _, err := os.Stat(opts.OutDir); err != nil {
		if err := os.MkdirAll(opts.OutDir, 0o700); err != nil {
			return fmt.Errorf("--out-dir: %w", err)
		}
		createdDir = true
	}
	var written []string
	cleanup := func() {
		for _, p := range written {
			os.Remove(p)
		}
		if createdDir {
			os.Remove(opts.OutDir)
		}
	}
	for i, sk := range sealed {
		p := filepath.Join(opts.OutDir, files[i])
		if err := writeNew(p, sk.sealed, "output file", nothingStored); err != nil {
			cleanup()
			return err
		}
		written = append(written, p)
	}
	if err := writeNew(manifestPath, append(manJSON, '\n'), "manifest", nothingStored); err != nil {
		cleanup()
		return err
	}
	written = append(written, manifestPath)
	res, err := v.AddDeviceKeys(f.Ctx(), f.Config.Tenant, reqs)
	if err != nil {
		cleanup()
		return deviceHint(err, f)
	}

	if f.JSON() {
		out := make([]map[string]any, len(res))
		for i, r := range res {
			out[i] = map[string]any{"device": r.Name, "device_id": r.DeviceID, "key_id": r.KeyID, "role": r.Role,
				"fingerprint": r.Fingerprint, "file": filepath.Join(opts.OutDir, files[i])}
		}
		return f.PrintJSON(map[string]any{"tenant": f.Config.Tenant, "count": len(res), "manifest": manifestPath, "devices": out})
	}
	f.IO.Infof("provisioned %s at role %s: %s to %s", cmdutil.Plural(len(res), "device"), opts.Role, names[0], names[len(names)-1])
	f.IO.Infof("wrote the sealed keys and %q to %q", ManifestName, opts.OutDir)
	f.IO.Warnf("%q holds every passphrase: deliver each apart from its key file, then delete it", manifestPath)
	return nil
}

func fingerprintOf(m *mintedKey) string { return devicecred.Fingerprint(m.spki) }

// sealAll seals every minted key on batchWorkers goroutines, showing a
// progress bar on a terminal.
func sealAll(f *cmdutil.Factory, minted []*mintedKey, words int) ([]*sealedKey, error) {
	out := make([]*sealedKey, len(minted))
	errs := make([]error, len(minted))
	jobs := make(chan int)
	prog := &progressBar{f: f, what: "sealing", total: len(minted)}
	var wg sync.WaitGroup
	for range batchWorkers(len(minted)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				out[i], errs[i] = minted[i].seal(words)
				prog.inc()
			}
		}()
	}
	for i := range minted {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	prog.done()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// progressBar draws "sealing [=====     ] 3/8" on standard error when it is
// a terminal.
type progressBar struct {
	f     *cmdutil.Factory
	what  string
	total int

	mu    sync.Mutex
	n     int
	shown bool
}

func (p *progressBar) inc() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	if !p.f.IO.ErrTTY || p.f.IO.Quiet {
		return
	}
	const width = 30
	fill := p.n * width / p.total
	fmt.Fprintf(p.f.IO.ErrOut, "\r%s [%s%s] %d/%d", p.what, strings.Repeat("=", fill), strings.Repeat(" ", width-fill), p.n, p.total)
	p.shown = true
}

func (p *progressBar) done() {
	if p.shown {
		fmt.Fprintln(p.f.IO.ErrOut)
	}
}
