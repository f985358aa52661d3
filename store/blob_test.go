package store

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"deltafs/catalog"
)

func TestBlobsAndMalformedNPY(t *testing.T) {
	logger, logs := newLogger()
	s := newStore(t, Options{Logger: logger})
	mustMkdir(t, s, "m")
	good := makeNPY(t, "<f4", []int64{64}, f32bytes(weights(1, 64)))
	badHeader := append([]byte(nil), good...)
	copy(badHeader[10:], "{'descr': '<f4', 'fortran_order': Maybe")
	tests := []struct {
		name     string
		data     []byte
		wantWarn string
	}{
		{"config.json", []byte(`{"hidden_size": 4096}`), ""},
		{"empty.bin", nil, ""},
		{"empty.npy", nil, ""},
		{"random.bin", randomBytes(1, 300000), ""},
		{"truncated.npy", good[:len(good)-4], "data bytes"},
		{"extra.npy", append(bytes.Clone(good), 0), "data bytes"},
		{"header.npy", badHeader, "malformed .npy header"},
		{"nomagic.npy", []byte("just text"), "no .npy magic"},
		{"object.npy", []byte("\x93NUMPY\x01\x00\x76\x00{'descr': '|O', 'fortran_order': False, 'shape': (2,), }" + strings.Repeat(" ", 60) + "\n"), "stored as a blob"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := s.ingest(context.Background(), "m/"+tt.name, stage(t, s, tt.data), IngestOptions{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.info.Kind != catalog.KindBlob || res.info.Strategy != blobStrategy {
				t.Errorf("kind %d strategy %q, want a blob", res.info.Kind, res.info.Strategy)
			}
			if tt.wantWarn == "" && res.warning != "" {
				t.Errorf("unexpected warning %q", res.warning)
			}
			if tt.wantWarn != "" && !strings.Contains(res.warning, tt.wantWarn) {
				t.Errorf("warning %q, want it to mention %q", res.warning, tt.wantWarn)
			}
			if tt.wantWarn != "" && !containsAll(logs.String(), "level=WARN", "m/"+tt.name) {
				t.Errorf("no warning logged for %s", tt.name)
			}
			if got := readFile(t, s, "m/"+tt.name); !bytes.Equal(got, tt.data) {
				t.Errorf("blob read back differs")
			}
		})
	}
}

// stage writes data to a staging file and returns it open.
func stage(t testing.TB, s *Store, data []byte) *os.File {
	t.Helper()
	f, err := os.CreateTemp(s.StagingDir(), "test-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close(); os.Remove(f.Name()) })
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	return f
}
