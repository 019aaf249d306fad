package secrets

import (
	"errors"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/value"
)

func decryptHint(err error) error {
	switch {
	case errors.Is(err, value.ErrWrongEnvironment):
		var ee *value.EnvError
		if errors.As(err, &ee) {
			return cmdutil.WithHint(err, "select its environment: -e "+ee.Value)
		}
	case errors.Is(err, value.ErrNameRequired):
		return &cmdutil.UsageError{Err: err}
	case errors.Is(err, value.ErrUnauthenticated):
		return cmdutil.WithHint(err, "wrong master key, wrong --name, or the value was changed; see: keysmith key check")
	case errors.Is(err, value.ErrUnknownKey):
		return cmdutil.WithHint(err, "the key it was sealed with is not available: see keysmith key list")
	case errors.Is(err, value.ErrMalformed):
		return cmdutil.WithHint(err, "values look like DEV_ENC:<base64url>; was it cut when copied?")
	}
	return err
}
