package schema

import (
	"context"

	"github.com/keysmith/keysmith/pkg/masterkey"
	"github.com/keysmith/keysmith/pkg/vault"
	"github.com/keysmith/keysmith/pkg/vault/store/sqlite"
)

// createVault makes a vault file at path, as "vault init" does.
func createVault(path, env string, mk masterkey.Key) (*vault.Vault, error) {
	st, err := sqlite.Create(context.Background(), path)
	if err != nil {
		return nil, err
	}
	return vault.Create(context.Background(), st, env, mk, vault.Options{Actor: "tester"})
}

// openVault opens the vault file at path without a key.
func openVault(path string) (*vault.Vault, error) {
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		return nil, err
	}
	return vault.Open(context.Background(), st, vault.Options{Actor: "tester"})
}
