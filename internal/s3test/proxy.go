package s3test

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Proxy is a TCP proxy on 127.0.0.1 in front of a server, for tests of
// what a link does to a client: Cut makes the server unreachable (every
// connection reset, new ones refused) until Restore; SetRate caps the
// link's throughput in each direction; Bytes counts what passed.
type Proxy struct {
	target string
	addr   string

	mu     sync.Mutex
	ln     net.Listener // nil while cut
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup

	up, down limiter
	damage   damage       // client to server
	upBytes  atomic.Int64 // client to server
	dnBytes  atomic.Int64 // server to client
}

// NewProxy starts a proxy to target (host:port), closed when the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{target: target, addr: ln.Addr().String(), conns: map[net.Conn]struct{}{}}
	p.serve(ln)
	t.Cleanup(p.Close)
	return p
}

// Endpoint returns http://ADDR of the proxy.
func (p *Proxy) Endpoint() string { return "http://" + p.addr }

// Addr returns the proxy's host:port.
func (p *Proxy) Addr() string { return p.addr }

// Server returns s with its endpoint through the proxy.
func (p *Proxy) Server(s Server) Server {
	s.Endpoint = p.Endpoint()
	return s
}

func (p *Proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.handle(c)
			}()
		}
	}()
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil || p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

func (p *Proxy) handle(client net.Conn) {
	if !p.track(client) {
		reset(client)
		return
	}
	defer p.untrack(client)
	server, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		reset(client)
		return
	}
	if !p.track(server) {
		reset(client)
		reset(server)
		return
	}
	defer p.untrack(server)
	done := make(chan bool, 2)
	go func() { done <- p.pipe(server, client, &p.up, &p.upBytes, &p.damage) }()
	go func() { done <- p.pipe(client, server, &p.down, &p.dnBytes, nil) }()
	// A direction that ended cleanly (EOF, passed on as a half-close) lets
	// the other go on; a failed one ends both.
	if !<-done {
		client.Close()
		server.Close()
	}
	<-done
	client.Close()
	server.Close()
}

// pipe copies src to dst through the limiter, counting the bytes; at
// src's EOF it half-closes dst and reports true.
func (p *Proxy) pipe(dst, src net.Conn, lim *limiter, count *atomic.Int64, dmg *damage) bool {
	buf := make([]byte, 16<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if dmg != nil {
				dmg.apply(buf[:n])
			}
			lim.wait(n)
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return false
			}
			count.Add(int64(n))
		}
		if errors.Is(err, io.EOF) {
			if tc, ok := dst.(*net.TCPConn); ok {
				return tc.CloseWrite() == nil
			}
			return false
		}
		if err != nil {
			return false
		}
	}
}

// Cut makes the server unreachable: open connections are reset and new
// ones refused until Restore.
func (p *Proxy) Cut() {
	p.mu.Lock()
	ln := p.ln
	p.ln = nil
	conns := p.conns
	p.conns = map[net.Conn]struct{}{}
	p.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	for c := range conns {
		reset(c)
	}
}

// Restore makes the server reachable again at the same address.
func (p *Proxy) Restore() error {
	p.mu.Lock()
	if p.ln != nil || p.closed {
		p.mu.Unlock()
		return nil
	}
	p.mu.Unlock()
	var ln net.Listener
	var err error
	for range 50 { // the port may linger a moment after Cut
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	p.serve(ln)
	return nil
}

// SetRate caps the throughput of each direction at bytesPerSec across
// all connections (0: no cap).
func (p *Proxy) SetRate(bytesPerSec int64) {
	p.up.set(bytesPerSec)
	p.down.set(bytesPerSec)
}

// Bytes returns the bytes passed client to server (up) and server to
// client (down) since the start or the last ResetBytes.
func (p *Proxy) Bytes() (up, down int64) { return p.upBytes.Load(), p.dnBytes.Load() }

// ResetBytes zeroes the counters.
func (p *Proxy) ResetBytes() {
	p.upBytes.Store(0)
	p.dnBytes.Store(0)
}

// DamageUp flips one bit of the byte that comes after skip more bytes
// from client to server (counted over every connection): damage in
// transit that the server's checksums must catch.
func (p *Proxy) DamageUp(skip int64) { p.damage.arm(skip) }

// DamagedUp reports whether the damage asked by DamageUp was done.
func (p *Proxy) DamagedUp() bool { return p.damage.done() }

// damage flips a bit at a position of a stream once.
type damage struct {
	mu    sync.Mutex
	armed bool
	skip  int64
}

func (d *damage) arm(skip int64) {
	d.mu.Lock()
	d.armed, d.skip = true, skip
	d.mu.Unlock()
}

func (d *damage) done() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return !d.armed
}

func (d *damage) apply(b []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.armed {
		return
	}
	if d.skip < int64(len(b)) {
		b[d.skip] ^= 0x10
		d.armed = false
		return
	}
	d.skip -= int64(len(b))
}

// Close stops the proxy and ends every connection.
func (p *Proxy) Close() {
	p.Cut()
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.wg.Wait()
}

// reset closes c with a TCP reset, as a server gone away does.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

// limiter paces bytes at a rate shared by every connection: each chunk
// reserves its transmission time on one timeline, as a link of that
// speed would serialise it. A link idle for a moment may send a burst of
// up to burst's worth at once, so that a sleep's overshoot (long on a busy
// machine) is made up for by the chunks after it.
type limiter struct {
	mu   sync.Mutex
	rate int64     // bytes per second; 0: none
	next time.Time // when the link is free again
}

const burst = 20 * time.Millisecond

func (l *limiter) set(rate int64) {
	l.mu.Lock()
	l.rate = rate
	l.next = time.Time{}
	l.mu.Unlock()
}

func (l *limiter) wait(n int) {
	l.mu.Lock()
	if l.rate <= 0 {
		l.mu.Unlock()
		return
	}
	now := time.Now()
	start := l.next
	if early := now.Add(-burst); start.Before(early) {
		start = early
	}
	l.next = start.Add(time.Duration(float64(n) / float64(l.rate) * float64(time.Second)))
	until := l.next
	l.mu.Unlock()
	if d := time.Until(until); d > 0 {
		time.Sleep(d)
	}
}
