package secrets

import (
	"errors"
	"fmt"
	"strings"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/dotenv"
	"github.com/keysmith/keysmith/pkg/keysource"
	"github.com/keysmith/keysmith/pkg/masterkey"
	"github.com/keysmith/keysmith/pkg/value"
)

// fileKeyring returns the keyring that seals new values of env into the .env
// file ef (read from path). A file that already holds values of env keeps
// one key: no dev key is created for it, and a new value is sealed only when
// the file's values are all under the current key. Otherwise a teammate
// without the team's key would seal under a key of their own, and everyone
// else's "keysmith run" would fail on that value (issue 8, "forking" the key).
func fileKeyring(f *cmdutil.Factory, path string, ef *dotenv.File, env string, policy cmdutil.KeyPolicy) (*value.Keyring, error) {
	if err := foreignValues(path, ef, env); err != nil {
		return nil, err
	}
	ids := fileKeyIDs(ef, env)
	if len(ids) == 0 {
		return f.SealingKeyring(env, policy)
	}
	kr, err := f.SealingKeyring(env, cmdutil.NoCreate)
	if errors.Is(err, keysource.ErrNoKey) {
		return nil, sameKeyError(fmt.Sprintf("%q holds %s values sealed under %s, and there is no %s key here", path, env, keyIDs(ids), env),
			importHint(env, ids))
	} else if err != nil {
		return nil, err
	}
	var unknown []masterkey.ID
	for _, id := range ids {
		if !kr.Has(id) {
			unknown = append(unknown, id)
		}
	}
	if len(unknown) > 0 {
		return nil, sameKeyError(fmt.Sprintf("%q holds %s values sealed under %s, which is not among the %s keys here (current key ID %s)",
			path, env, keyIDs(unknown), env, kr.CurrentID()), importHint(env, unknown))
	}
	var old []masterkey.ID
	for _, id := range ids {
		if id != kr.CurrentID() {
			old = append(old, id)
		}
	}
	if len(old) > 0 {
		return nil, sameKeyError(fmt.Sprintf("%q holds %s values sealed under %s, but new values would be sealed under the current key ID %s",
			path, env, keyIDs(old), kr.CurrentID()),
			fmt.Sprintf("move them to the current key first: keysmith secrets rekey %q (and give the new key to everyone who reads the file)", path))
	}
	return kr, nil
}

// foreignValues refuses to seal values of env into a file whose encrypted
// values (current or legacy) name another environment: a prod file with a
// name that declares nothing (config.env) is otherwise taken for dev, and a
// dev value sealed into it breaks prod's "keysmith run" (issue 8 item 10).
// The error is a wrong-environment error (exit 4) naming the environment and
// the line of its first value.
func foreignValues(path string, ef *dotenv.File, env string) error {
	for _, e := range ef.Entries() {
		if !value.IsEncrypted(e.Value) {
			continue
		}
		p, err := value.Parse(e.Value)
		if err != nil || p.Env == env {
			continue
		}
		return &cmdutil.Error{Code: cmdutil.ExitWrongEnv,
			Err: fmt.Errorf("%q holds %s values (%s, line %d), so %s values are not sealed into it",
				path, p.Env, e.Name, e.Line, env),
			Hints: []string{fmt.Sprintf("select its environment with -e %s (or name the file for it, e.g. env_%s.env)", p.Env, p.Env)}}
	}
	return nil
}

// sameKeyFiles runs fileKeyring's checks on every file before encrypt-file
// resolves or creates any key: an environment with values in any of the
// files gets no new dev key, and a file whose values are under another key
// stops the run before anything is written.
func sameKeyFiles(f *cmdutil.Factory, files []string) error {
	type file struct {
		path, env string
		ef        *dotenv.File
	}
	var all []file
	hasValues := map[string]bool{}
	for _, path := range files {
		ef, err := cmdutil.ReadEnvFile(path)
		if err != nil {
			return err
		}
		env, err := f.FileEnv(path)
		if err != nil {
			return err
		}
		all = append(all, file{path, env, ef})
		hasValues[env] = hasValues[env] || len(fileKeyIDs(ef, env)) > 0
	}
	// Files with values first: their error names the key ID that is needed.
	for _, withValues := range []bool{true, false} {
		for _, fl := range all {
			if (len(fileKeyIDs(fl.ef, fl.env)) > 0) != withValues {
				continue
			}
			policy := cmdutil.CreateDev
			if hasValues[fl.env] {
				policy = cmdutil.NoCreate
			}
			if _, err := fileKeyring(f, fl.path, fl.ef, fl.env, policy); err != nil {
				return err
			}
		}
	}
	return nil
}

// fileKeyIDs lists, once each and in file order, the key IDs of the values
// of env in ef. Values of the older Fernet design carry no key ID.
func fileKeyIDs(ef *dotenv.File, env string) []masterkey.ID {
	var ids []masterkey.ID
	for _, e := range ef.Entries() {
		p, err := value.Parse(e.Value)
		if err != nil || p.Legacy || p.Env != env {
			continue
		}
		dup := false
		for _, id := range ids {
			dup = dup || id == p.KeyID
		}
		if !dup {
			ids = append(ids, p.KeyID)
		}
	}
	return ids
}

func keyIDs(ids []masterkey.ID) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = id.String()
	}
	if len(s) == 1 {
		return "key ID " + s[0]
	}
	return "key IDs " + strings.Join(s, ", ")
}

func importHint(env string, ids []masterkey.ID) string {
	return fmt.Sprintf("get the team's %s key (%s) from a teammate: keysmith key export -e %s there, keysmith key import FILE here (docs/keys.md)",
		env, keyIDs(ids), env)
}

// sameKeyError is a wrong-key error (exit 3): the key the file needs is not
// the one that would seal.
func sameKeyError(msg, hint string) error {
	return &cmdutil.Error{Err: errors.New(msg), Code: cmdutil.ExitAuth, Hints: []string{hint}}
}
