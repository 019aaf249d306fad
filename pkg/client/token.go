package client

import (
	"encoding/base64"
	"encoding/hex"
	"io"
)

// NewToken makes a service token for RegisterToken: "kst1_", 8 random
// bytes as 16 lowercase hex digits (the public ID), "_", 32 random bytes
// base64url without padding (docs/service-access.md, "Token format").
func NewToken(rand io.Reader) (string, error) {
	raw := make([]byte, 8+32)
	defer clear(raw)
	if _, err := io.ReadFull(rand, raw); err != nil {
		return "", err
	}
	return "kst1_" + hex.EncodeToString(raw[:8]) + "_" + base64.RawURLEncoding.EncodeToString(raw[8:]), nil
}
