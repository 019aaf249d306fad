package vault

import (
	"context"
	"errors"

	"github.com/keysmith/keysmith/pkg/vault/chain"
	"github.com/keysmith/keysmith/pkg/vault/keyring"
	"github.com/keysmith/keysmith/pkg/vault/store"
)

// Problem is one thing VerifyAll found wrong.
type Problem struct {
	What  string `json:"what"`  // "audit chain", "row MAC", "secret", "device secret", "AMT certificate", "state"
	Error string `json:"error"` // the error, on one line
}

// VerifyAll checks everything a vault holds, in one read-only snapshot, and
// lists every problem (issue 10 item 7): the audit chain (from the keyed
// init row, no gaps, every MAC), every row MAC of the authorisation tables,
// every version of every secret and device secret opens, every AMT
// provisioning key opens and matches its chain, and the state
// agrees with the chain (the newest version of each secret and device
// secret, revocations of tokens, grants and device keys, removals of
// devices). Nothing is written, nothing is audited; no value leaves the
// call. An empty list means the vault verifies. The error is for failures
// to read, not for problems found.
func (v *Vault) VerifyAll(ctx context.Context) (*VerifyResult, []Problem, error) {
	keys, level := v.state()
	if keys == nil {
		return nil, nil, ErrLocked
	}
	var res *VerifyResult
	var probs []Problem
	add := func(what string, err error) { probs = append(probs, Problem{What: what, Error: err.Error()}) }
	err := v.st.View(ctx, func(tx store.Tx) error {
		probs = nil
		o := v.newOp(ctx, tx, keys, level)
		ver := &chain.Verifier{Key: keys.AuditKey(), Genesis: v.vaultID}
		var chainErr error
		idx := newAuditIndex()
		err := tx.AuditScan(ctx, store.AuditFilter{}, func(r store.AuditRow) error {
			if chainErr == nil {
				chainErr = ver.Add(&r)
			}
			idx.add(r)
			return nil
		})
		if err != nil {
			return err
		}
		res = &ver.Result
		if chainErr == nil {
			res, chainErr = ver.Done()
		}
		if chainErr != nil {
			add("audit chain", chainErr)
		} else {
			o.chainVerified = true // every row, from the keyed init row on: no need to check rows one by one
			o.index = idx          // and the state checks look in what the walk saw, not one query each
		}
		if err := o.forEachMACRow(func(r keyring.Row, _ func([]byte) error) error {
			if err := o.check(r); err != nil {
				add("row MAC", err)
			}
			return nil
		}); err != nil {
			return err
		}
		ts, err := tx.Tenants(ctx)
		if err != nil {
			return err
		}
		byID := map[int64]store.Tenant{}
		for _, t := range ts {
			byID[t.ID] = t
			var last int64
			for {
				page, err := tx.SecretsPage(ctx, t.ID, last, 1000)
				if err != nil {
					return err
				}
				if len(page) == 0 {
					break
				}
				for _, s := range page {
					pt, err := o.open(t, s)
					if err != nil {
						add("secret", err)
						continue
					}
					clear(pt)
				}
				last = page[len(page)-1].ID
			}
			if err := o.checkDEKVersion(t); errors.Is(err, ErrTampered) {
				add("state", err)
			} else if err != nil {
				return err
			}
			latest, err := tx.LatestSecrets(ctx, t.ID, "", false)
			if err != nil {
				return err
			}
			for _, s := range latest {
				if err := o.checkLatest(t, s.Name, s); errors.Is(err, ErrTampered) {
					add("state", err)
				} else if err != nil {
					return err
				}
			}
		}
		dss, err := tx.DeviceSecretsOf(ctx, 0)
		if err != nil {
			return err
		}
		devs := map[int64]store.Device{}
		for _, s := range dss {
			d, ok := devs[s.DeviceRef]
			if !ok {
				if d, err = tx.DeviceByRef(ctx, s.DeviceRef); err != nil {
					return err
				}
				devs[s.DeviceRef] = d
			}
			t := byID[s.TenantID]
			dek, err := o.dek(t.ID, s.DEKVersion)
			if err == nil {
				var pt []byte
				if pt, err = keyring.OpenDeviceSecret(dek, t.ID, d.ID, d.UUID, s.Name, s.Version, s.DEKVersion, s.Sealed, d.Name); err == nil {
					clear(pt)
				}
			}
			if err != nil {
				add("device secret", err)
			}
		}
		for _, d := range devs {
			l, err := tx.LatestDeviceSecrets(ctx, d.Ref)
			if err != nil {
				return err
			}
			for _, s := range l {
				if err := o.checkLatestDeviceSecret(byID[d.TenantID], d, s.Name, s.Version); errors.Is(err, ErrTampered) {
					add("state", err)
				} else if err != nil {
					return err
				}
			}
		}
		certs, err := tx.AMTCerts(ctx, 0)
		if err != nil {
			return err
		}
		for _, c := range certs {
			if err := keys.Check(keyring.AMTCertRow(c)); err != nil {
				add("row MAC", err)
				continue
			}
			if err := o.checkAMTCertState(byID[c.TenantID], c); errors.Is(err, ErrTampered) {
				add("state", err)
			} else if err != nil {
				return err
			}
			dek, err := o.dek(c.TenantID, c.DEKVersion)
			if err == nil {
				var pt []byte
				if pt, err = keyring.OpenAMTKey(dek, c.TenantID, c.Name, c.Chain, c.DEKVersion, c.SealedKey); err == nil {
					_, err = v.loadAMTCert(c.TenantID, c, pt)
					clear(pt)
				}
			}
			if err != nil {
				add("AMT certificate", err)
			}
		}
		// Every active device key against the chain: no revocation of it
		// and no removal of its device recorded (a put-back row).
		keyRows, err := tx.DeviceKeys(ctx, 0)
		if err != nil {
			return err
		}
		for _, k := range keyRows {
			if k.Status != KeyActive {
				continue
			}
			d, ok := devs[k.DeviceRef]
			if !ok {
				if d, err = tx.DeviceByRef(ctx, k.DeviceRef); err != nil {
					return err
				}
				devs[k.DeviceRef] = d
			}
			if err := o.checkKeyNotRevoked(byID[d.TenantID], d, k); errors.Is(err, ErrKeyRevoked) || errors.Is(err, ErrTampered) {
				add("state", err)
			} else if err != nil {
				return err
			}
		}
		// Every device against the chain: no removal of it recorded (a
		// device row put back after "device rm", with or without keys).
		for _, t := range ts {
			ds, err := tx.Devices(ctx, t.ID, "")
			if err != nil {
				return err
			}
			for _, d := range ds {
				if err := o.checkDeviceNotRemoved(t, d); errors.Is(err, ErrTampered) {
					add("state", err)
				} else if err != nil {
					return err
				}
			}
		}
		toks, err := tx.Tokens(ctx)
		if err != nil {
			return err
		}
		for _, t := range toks {
			if err := o.checkTokenState(t); errors.Is(err, ErrTampered) {
				add("state", err)
			} else if err != nil {
				return err
			}
		}
		grants, err := tx.Grants(ctx, 0)
		if err != nil {
			return err
		}
		for _, g := range grants {
			if err := o.checkGrantState(byID[g.TenantID], g); errors.Is(err, ErrTampered) {
				add("state", err)
			} else if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return res, probs, nil
}
