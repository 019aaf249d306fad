package vault

// Row authentication: docs/vault.md, "Row authentication". Every row whose
// fields drive an authorisation decision (devices, device keys, service
// tokens, grants, access requests) carries a MAC under the row key, which
// only the master key unlocks (keyring.Row). A decision verifies the rows
// it reads and fails closed with ErrTampered; every write of those fields
// recomputes the MAC.

import (
	"github.com/keysmith/keysmith/pkg/vault/keyring"
	"github.com/keysmith/keysmith/pkg/vault/store"
)

// check verifies a row's MAC, or accepts a row of a table whose MACs are
// not filled in yet (a read before the first unlocked write of an
// upgraded vault: update fills them in first, so a write never sees this).
func (o *op) check(r keyring.Row) error {
	if o.level < levelOf(r.Table) {
		return nil
	}
	return o.keys.Check(r)
}

func levelOf(table string) int {
	if table == keyring.TableDevices {
		return keyring.LevelDevices
	}
	return keyring.LevelRows
}

// forEachMACRow calls fn for every row of the tables with row MACs, with
// a function that stores a new MAC for it.
func (o *op) forEachMACRow(fn func(r keyring.Row, setMAC func([]byte) error) error) error {
	ctx, tx := o.ctx, o.tx
	devs, err := tx.Devices(ctx, 0, "")
	if err != nil {
		return err
	}
	for _, d := range devs {
		if err := fn(keyring.DeviceRow(d), func(mac []byte) error { return tx.UpdateDevice(ctx, d.Ref, d.Role, mac) }); err != nil {
			return err
		}
	}
	keys, err := tx.DeviceKeys(ctx, 0)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := fn(keyring.DeviceKeyRow(k), func(mac []byte) error { return tx.UpdateDeviceKey(ctx, k.ID, k.Status, k.RevokedAt, mac) }); err != nil {
			return err
		}
	}
	toks, err := tx.Tokens(ctx)
	if err != nil {
		return err
	}
	for _, t := range toks {
		if err := fn(keyring.TokenRow(t), func(mac []byte) error { return tx.SetTokenMAC(ctx, t.ID, mac) }); err != nil {
			return err
		}
	}
	grants, err := tx.Grants(ctx, 0)
	if err != nil {
		return err
	}
	for _, g := range grants {
		if err := fn(keyring.GrantRow(g), func(mac []byte) error {
			g.MAC = mac
			return tx.PutGrant(ctx, g)
		}); err != nil {
			return err
		}
	}
	reqs, err := tx.Requests(ctx, 0, false)
	if err != nil {
		return err
	}
	for _, r := range reqs {
		if err := fn(keyring.RequestRow(r), func(mac []byte) error {
			return tx.DecideRequest(ctx, r.ID, r.Status, r.DecidedAt, r.DecidedBy, mac)
		}); err != nil {
			return err
		}
	}
	return nil
}

// upgradeRowMACs runs at the start of every unlocked write transaction
// until the vault has every row MAC this keysmith knows (LevelLatest). A
// vault has them from its creation, or from the first unlocked write after
// an upgrade: then every row of the tables the vault's level does not
// cover gets a MAC, once (trust on upgrade), and the audit key is
// re-wrapped at the latest level in the same transaction. From then on,
// Unlock knows from the wrapped audit key that a row without a MAC is
// tampering; the wrapped key cannot be turned back without the KEK.
func (o *op) upgradeRowMACs() error {
	m, err := o.tx.Meta(o.ctx)
	if err != nil {
		return err
	}
	ak, level, err := o.keys.OpenAuditKey(m[store.MetaAuditKey])
	if err != nil {
		return err
	}
	defer clear(ak)
	if level >= keyring.LevelLatest { // another process upgraded it since Unlock
		o.level = level
		return nil
	}
	err = o.forEachMACRow(func(r keyring.Row, setMAC func([]byte) error) error {
		if levelOf(r.Table) <= level || r.MAC != nil {
			return nil // covered already, or MACed since (a wrong MAC stays wrong)
		}
		return setMAC(o.keys.MAC(r))
	})
	if err != nil {
		return err
	}
	wrapped, err := o.keys.WrapAuditKey(ak, keyring.LevelLatest)
	if err != nil {
		return err
	}
	o.level = keyring.LevelLatest
	return o.tx.SetMeta(o.ctx, store.MetaAuditKey, wrapped)
}
