package fusefs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"syscall"
	"testing"

	"deltafs/store"
)

func TestToErrno(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	wrap := func(err error) error { return fmt.Errorf("op x: %w", err) }
	cases := []struct {
		err  error
		want syscall.Errno
	}{
		{nil, 0},
		{wrap(store.ErrNotFound), syscall.ENOENT},
		{wrap(store.ErrExist), syscall.EEXIST},
		{wrap(store.ErrNotDir), syscall.ENOTDIR},
		{wrap(store.ErrIsDir), syscall.EISDIR},
		{wrap(store.ErrNotEmpty), syscall.ENOTEMPTY},
		{wrap(store.ErrReadOnly), syscall.EROFS},
		{wrap(store.ErrInvalidPath), syscall.EINVAL},
		{wrap(store.ErrNoBase), syscall.EINVAL},
		{wrap(store.ErrCorrupt), syscall.EIO},
		{wrap(syscall.ENOSPC), syscall.ENOSPC},
		{wrap(syscall.EDQUOT), syscall.EDQUOT},
		{wrap(context.Canceled), syscall.EINTR},
		{errors.New("surprise"), syscall.EIO},
	}
	for _, c := range cases {
		if got := toErrno(log, "op", "p", c.err); got != c.want {
			t.Errorf("toErrno(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func TestXattrBuffers(t *testing.T) {
	attrs := [][2]string{{"user.a", "12345"}, {"user.b", ""}}
	cases := []struct {
		name    string
		destLen int
		wantN   uint32
		wantErr syscall.Errno
	}{
		{"user.a", 0, 5, syscall.ERANGE},
		{"user.a", 4, 5, syscall.ERANGE},
		{"user.a", 5, 5, 0},
		{"user.b", 0, 0, 0},
		{"user.c", 10, 0, syscall.ENODATA},
	}
	for _, c := range cases {
		n, errno := getXattr(attrs, c.name, make([]byte, c.destLen))
		if n != c.wantN || errno != c.wantErr {
			t.Errorf("getXattr(%s, %d) = %d, %v; want %d, %v", c.name, c.destLen, n, errno, c.wantN, c.wantErr)
		}
	}
	dest := make([]byte, 64)
	n, errno := listXattrs(attrs, dest)
	if errno != 0 || string(dest[:n]) != "user.a\x00user.b\x00" {
		t.Errorf("listXattrs = %q, %v", dest[:n], errno)
	}
	if n, errno := listXattrs(attrs, nil); errno != syscall.ERANGE || n != 14 {
		t.Errorf("listXattrs(nil) = %d, %v", n, errno)
	}
}

// FuzzBytesHandleRead checks that reads of the stats snapshot at any
// offset and size return the right slice and never panic.
func FuzzBytesHandleRead(f *testing.F) {
	f.Add([]byte(`{"a": 1}`), int64(0), 4)
	f.Add([]byte(`x`), int64(5), 0)
	f.Add([]byte{}, int64(-1), 10)
	f.Fuzz(func(t *testing.T, data []byte, off int64, size int) {
		if size < 0 || size > 1<<16 {
			return
		}
		h := &bytesHandle{data: data}
		res, errno := h.Read(context.Background(), make([]byte, size), off)
		if errno != 0 {
			t.Fatal(errno)
		}
		got, _ := res.Bytes(nil)
		var want []byte
		if off >= 0 && off < int64(len(data)) {
			want = data[off:min(int64(len(data)), off+int64(size))]
		}
		if string(got) != string(want) {
			t.Fatalf("read %d@%d = %q, want %q", size, off, got, want)
		}
	})
}

// FuzzXattrBuffers checks getXattr and listXattrs against any value and
// buffer size: the full value or ERANGE with its size, never a panic or a
// truncated answer.
func FuzzXattrBuffers(f *testing.F) {
	f.Add("user.deltafs.hash", "abc", 0)
	f.Add("user.deltafs.base", "", 8)
	f.Add("user.x", "\x00\xff", 1)
	f.Fuzz(func(t *testing.T, name, value string, size int) {
		if size < 0 || size > 1<<12 {
			return
		}
		attrs := [][2]string{{name, value}, {"user.other", "v"}}
		dest := make([]byte, size)
		n, errno := getXattr(attrs, name, dest)
		switch {
		case size < len(value):
			if errno != syscall.ERANGE || int(n) != len(value) {
				t.Fatalf("small buffer: %d %v", n, errno)
			}
		case errno != 0 || string(dest[:n]) != value:
			t.Fatalf("get %q: %q %v", name, dest[:n], errno)
		}
		want := name + "\x00user.other\x00"
		n, errno = listXattrs(attrs, dest)
		switch {
		case size < len(want):
			if errno != syscall.ERANGE || int(n) != len(want) {
				t.Fatalf("small list buffer: %d %v", n, errno)
			}
		case errno != 0 || string(dest[:n]) != want:
			t.Fatalf("list: %q %v", dest[:n], errno)
		}
	})
}
