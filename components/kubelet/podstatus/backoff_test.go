package podstatus

import (
	"testing"
	"time"
)

func TestCrashLoopDelay(t *testing.T) {
	want := []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 160 * time.Second, 300 * time.Second, 300 * time.Second}
	for i, w := range want {
		if got := CrashLoopDelay(i + 1); got != w {
			t.Errorf("CrashLoopDelay(%d) = %s, want %s", i+1, got, w)
		}
	}
	if got := CrashLoopDelay(0); got != BackoffInitial {
		t.Errorf("CrashLoopDelay(0) = %s", got)
	}
}

func TestCrashLoopMessage(t *testing.T) {
	got := CrashLoopMessage(10*time.Second, "x", "web", "default", "u1")
	if want := "back-off 10s restarting failed container=x pod=web_default(u1)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestBackoffTracker(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := &Backoff{Now: func() time.Time { return now }}
	key := BackoffKey("uid", "app")

	// First crash: restart at once.
	if _, wait := b.InBackoff(key, now); wait {
		t.Fatal("first crash must not wait")
	}
	if d := b.Next(key, now); d != 10*time.Second {
		t.Fatalf("Next = %s", d)
	}
	// Second crash 1s later: wait 10s.
	now = now.Add(time.Second)
	finished := now
	if d, wait := b.InBackoff(key, finished); !wait || d != 10*time.Second {
		t.Fatalf("InBackoff = %s %v, want 10s true", d, wait)
	}
	now = now.Add(10 * time.Second)
	if _, wait := b.InBackoff(key, finished); wait {
		t.Fatal("back-off must be over after 10s")
	}
	if d := b.Next(key, finished); d != 20*time.Second {
		t.Fatalf("Next = %s, want 20s", d)
	}
	for range 10 {
		b.Next(key, finished)
	}
	if d, _ := b.InBackoff(key, finished); d != BackoffMax {
		t.Fatalf("delay = %s, want cap", d)
	}
	// Ran for more than 10 minutes: back to 10s.
	now = now.Add(11 * time.Minute)
	if _, wait := b.InBackoff(key, now); wait {
		t.Fatal("expired entry must not hold")
	}
	if d := b.Next(key, now); d != BackoffInitial {
		t.Fatalf("after a long run Next = %s, want 10s", d)
	}
	b.Forget(key)
	if _, wait := b.InBackoff(key, now); wait {
		t.Fatal("forgotten key must not hold")
	}
	b.Next(key, now)
	now = now.Add(time.Hour)
	b.GC()
	if len(b.entries) != 0 {
		t.Fatal("GC kept an expired entry")
	}
}
