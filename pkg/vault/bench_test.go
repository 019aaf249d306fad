package vault

import (
	"fmt"
	"os"
	"testing"
)

func benchItems(n int) []Item {
	items := make([]Item, n)
	for i := range items {
		items[i] = Item{Name: fmt.Sprintf("SECRET_%06d", i), Value: []byte(fmt.Sprintf("value-%d-0123456789abcdef0123456789", i)), Description: "bench"}
	}
	return items
}

func benchVault(b *testing.B, n int) (*Vault, string) {
	v, path, _ := newVault(b)
	if n > 0 {
		if _, err := v.PutMany(ctx, "default", benchItems(n), nil); err != nil {
			b.Fatal(err)
		}
	}
	return v, path
}

func BenchmarkGet(b *testing.B) {
	v, _ := benchVault(b, 1000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := v.Get(ctx, "default", "SECRET_000500", 0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPut(b *testing.B) {
	v, _ := benchVault(b, 1000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := v.Put(ctx, "default", "SECRET_000500", []byte("new value"), ""); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkImport10000(b *testing.B) {
	items := benchItems(10000)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		v, _ := benchVault(b, 0)
		b.StartTimer()
		if _, err := v.PutMany(ctx, "default", items, nil); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		v.Close()
		b.StartTimer()
	}
}

func BenchmarkList10000(b *testing.B) {
	v, _ := benchVault(b, 10000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ls, err := v.List(ctx, "default")
		if err != nil || len(ls) != 10000 {
			b.Fatal(len(ls), err)
		}
	}
}

// BenchmarkRotateMaster shows rotate-master's cost is flat in the number of
// secrets. 100,000 takes a while to set up: VAULT_BENCH_LARGE=1.
func BenchmarkRotateMaster(b *testing.B) {
	sizes := []int{1000, 10000}
	if os.Getenv("VAULT_BENCH_LARGE") != "" {
		sizes = append(sizes, 100000)
	}
	for _, n := range sizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			v, _ := benchVault(b, n)
			keys := []Key{testKey(b, 2), testKey(b, 1)}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := v.RotateMaster(ctx, keys[i%2]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkRotateDEK10000(b *testing.B) {
	v, _ := benchVault(b, 10000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := v.RotateDEK(ctx, "default", nil); err != nil {
			b.Fatal(err)
		}
	}
}
