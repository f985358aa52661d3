package s3test

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// echoServer answers every connection with what it sent.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				io.Copy(c, c)
				c.Close()
			}()
		}
	}()
	return ln.Addr().String()
}

func roundTrip(addr string, data []byte) ([]byte, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	go func() {
		c.Write(data)
		c.(*net.TCPConn).CloseWrite()
	}()
	return io.ReadAll(c)
}

func TestProxyCountsAndCuts(t *testing.T) {
	p := NewProxy(t, echoServer(t))
	data := bytes.Repeat([]byte("deltafs"), 10000)
	got, err := roundTrip(p.Addr(), data)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("through the proxy: %d bytes, %v", len(got), err)
	}
	if up, down := p.Bytes(); up != int64(len(data)) || down != int64(len(data)) {
		t.Fatalf("Bytes = %d up, %d down; want %d each", up, down, len(data))
	}
	p.ResetBytes()

	// A connection open across the cut is reset; new ones are refused.
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("x"))
	buf := make([]byte, 1)
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	p.Cut()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(buf); err == nil {
		t.Fatal("a connection survived the cut")
	}
	if _, err := roundTrip(p.Addr(), data); err == nil {
		t.Fatal("a connection went through while cut")
	}
	if err := p.Restore(); err != nil {
		t.Fatal(err)
	}
	if got, err := roundTrip(p.Addr(), data); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("after the restore: %d bytes, %v", len(got), err)
	}
}

func TestProxyRate(t *testing.T) {
	tests := []struct {
		rate int64
		size int
	}{
		{1 << 20, 1 << 20},
		{4 << 20, 2 << 20},
	}
	for _, tc := range tests {
		p := NewProxy(t, echoServer(t))
		p.SetRate(tc.rate)
		data := make([]byte, tc.size)
		start := time.Now()
		got, err := roundTrip(p.Addr(), data)
		if err != nil || len(got) != len(data) {
			t.Fatalf("rate %d: %d bytes, %v", tc.rate, len(got), err)
		}
		// Each direction is capped on its own; the echo overlaps them.
		want := time.Duration(float64(tc.size) / float64(tc.rate) * float64(time.Second))
		if d := time.Since(start); d < want*9/10 || d > want*3+2*time.Second {
			t.Fatalf("rate %d B/s: %d bytes took %v, want about %v", tc.rate, tc.size, d, want)
		}
	}
}

func TestProxyDamage(t *testing.T) {
	p := NewProxy(t, echoServer(t))
	data := make([]byte, 100000)
	p.DamageUp(70000)
	got, err := roundTrip(p.Addr(), data)
	if err != nil || len(got) != len(data) {
		t.Fatalf("%d bytes, %v", len(got), err)
	}
	for i, b := range got {
		if want := map[bool]byte{true: 0x10, false: 0}[i == 70000]; b != want {
			t.Fatalf("byte %d = %#x, want %#x", i, b, want)
		}
	}
	if !p.DamagedUp() {
		t.Fatal("DamagedUp false after the damage")
	}
}
