//go:build !unix

package sqlite

func canWrite(string) error { return nil }
