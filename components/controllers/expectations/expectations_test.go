package expectations

import (
	"testing"
	"time"
)

func TestExpectations(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e := New(func() time.Time { return now })
	steps := []struct {
		do   func()
		want bool
	}{
		{func() {}, true}, // nothing recorded: free to act
		{func() { e.Expect("ns/web", 2, []string{"ns/a"}) }, false},
		{func() { e.CreationObserved("ns/web") }, false},
		{func() { e.CreationObserved("ns/web") }, false}, // ns/a not gone yet
		{func() { e.DeletionObserved("ns/web", "ns/other") }, false},
		{func() { e.DeletionObserved("ns/web", "ns/a") }, true},
		{func() { e.Expect("ns/web", 1, nil) }, false},
		{func() { now = now.Add(Timeout + time.Second) }, true}, // a lost event must not stall it
		{func() { e.Expect("ns/web", 1, nil); e.Forget("ns/web") }, true},
	}
	for i, s := range steps {
		s.do()
		if got := e.Satisfied("ns/web"); got != s.want {
			t.Fatalf("step %d: Satisfied = %v, want %v", i, got, s.want)
		}
	}
	e.Expect("ns/web", 3, []string{"ns/x", "ns/y"})
	e.CreationObserved("ns/web")
	if adds, dels := e.Pending("ns/web"); adds != 2 || dels != 2 {
		t.Errorf("Pending = %d, %d; want 2, 2", adds, dels)
	}
}
