package server_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding/gzip"
	"google.golang.org/protobuf/proto"

	keysmithv1 "github.com/keysmith/keysmith/pkg/api/keysmith/v1"
	"github.com/keysmith/keysmith/pkg/server"
	"github.com/keysmith/keysmith/pkg/vault"
)

// TestResponsesNeverCompressed: a client accepting gzip gets its secret
// uncompressed (a compressed secret beside a caller-chosen name leaks
// through its length), over the Connect protocol, where the encoding is a
// header, and over gRPC, where it is a flag on each message; a gzip
// request from a stock grpc-go client is still read.
func TestResponsesNeverCompressed(t *testing.T) {
	fx := start(t, server.Options{}, nil)
	tok, id := newToken(t)
	ctx := context.Background()
	if _, err := fx.client(t, tok).RegisterToken(ctx, "orders", ""); err != nil {
		t.Fatal(err)
	}
	fx.op.ApproveToken(ctx, id)
	value := strings.Repeat("compressible-", 64)
	fx.op.Put(ctx, vault.DefaultTenant, "A", []byte(value), "")
	fx.op.GrantAccess(ctx, vault.DefaultTenant, "orders", "A")

	pemBytes, err := os.ReadFile(fx.certPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	hc := &http.Client{Transport: &http.Transport{ForceAttemptHTTP2: true, TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS13}}}
	body, _ := json.Marshal(map[string]string{"secretName": "A", "token": tok})
	post := func(contentType string, body []byte, header map[string]string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, "https://"+fx.addr+rpcGetSecret, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", contentType)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		res, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return res, b
	}

	res, b := post("application/json", body, map[string]string{"Accept-Encoding": "gzip", "Connect-Protocol-Version": "1"})
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Encoding") != "" || !bytes.Contains(b, []byte(value)) {
		t.Fatalf("Connect GetSecret accepting gzip: %s, Content-Encoding %q, body %.80q", res.Status, res.Header.Get("Content-Encoding"), b)
	}

	// gRPC: one length-prefixed message; its first byte is the compressed flag.
	raw := grpcFrame(t, &keysmithv1.GetSecretRequest{SecretName: "A", Token: tok})
	res, b = post("application/grpc", raw, map[string]string{"Grpc-Accept-Encoding": "gzip", "TE": "trailers"})
	if res.StatusCode != http.StatusOK || res.Trailer.Get("Grpc-Status") != "0" || len(b) < 5 {
		t.Fatalf("gRPC GetSecret accepting gzip: %s, grpc-status %q, %d bytes", res.Status, res.Trailer.Get("Grpc-Status"), len(b))
	}
	if b[0] != 0 || !bytes.Contains(b, []byte(value)) {
		t.Fatalf("gRPC response message compressed (flag %d)", b[0])
	}

	conn := fx.grpcConn(t)
	got := &keysmithv1.GetSecretResponse{}
	if err := conn.Invoke(ctx, rpcGetSecret, &keysmithv1.GetSecretRequest{SecretName: "A", Token: tok}, got, grpc.UseCompressor(gzip.Name)); err != nil || got.Value != value {
		t.Fatalf("grpc-go gzip request: %v, %d bytes", err, len(got.Value))
	}
}

// grpcFrame is m as one uncompressed gRPC length-prefixed message.
func grpcFrame(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return append(binary.BigEndian.AppendUint32([]byte{0}, uint32(len(b))), b...)
}
