package storage

import (
	"bytes"
	stdgzip "compress/gzip"
	"io"
	"testing"
)

// BenchmarkGunzipPage is the work of a plain client's hit on a page outside the
// hot-body cache: the gunzip of a 30 KB page. The standard library's reader runs
// beside storage's (klauspost's) as the baseline of the ratio.
func BenchmarkGunzipPage(b *testing.B) {
	plain := htmlBody(7, 30<<10)
	gz := gzipped(b, plain)
	b.Run("compress_gzip (baseline)", func(b *testing.B) {
		zr, err := stdgzip.NewReader(bytes.NewReader(gz))
		if err != nil {
			b.Fatal(err)
		}
		dst := make([]byte, 0, len(plain)+1)
		b.SetBytes(int64(len(plain)))
		b.ReportAllocs()
		for b.Loop() {
			if err := zr.Reset(bytes.NewReader(gz)); err != nil {
				b.Fatal(err)
			}
			buf := bytes.NewBuffer(dst[:0])
			if _, err := io.Copy(buf, zr); err != nil || buf.Len() != len(plain) {
				b.Fatalf("gunzipped %d bytes, %v", buf.Len(), err)
			}
		}
	})
	b.Run("storage gunzip", func(b *testing.B) {
		dst := make([]byte, 0, len(plain)+1)
		b.SetBytes(int64(len(plain)))
		b.ReportAllocs()
		for b.Loop() {
			out, err := gunzip(gz, dst[:0])
			if err != nil || len(out) != len(plain) {
				b.Fatalf("gunzipped %d bytes, %v", len(out), err)
			}
		}
	})
}
