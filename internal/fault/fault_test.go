package fault

import (
	"errors"
	"fmt"
	"testing"
)

func TestNewMatchesItselfAndItsKind(t *testing.T) {
	a := New("a: broken", Corrupt)
	b := New("b: broken", Corrupt)
	wrapped := fmt.Errorf("reading x: %w", a)
	tests := []struct {
		target error
		want   bool
	}{
		{a, true},
		{Corrupt, true},
		{b, false},
		{Busy, false},
	}
	for _, tt := range tests {
		if got := errors.Is(wrapped, tt.target); got != tt.want {
			t.Errorf("errors.Is(%v, %v) = %v, want %v", wrapped, tt.target, got, tt.want)
		}
	}
	if a.Error() != "a: broken" {
		t.Errorf("message %q, want the sentinel's own", a.Error())
	}
}
