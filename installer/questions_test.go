package installer

import (
	"testing"

	"github.com/pggraph/pggraph/internal/config"
)

// TestHooks: every config.Hook a key names is implemented, as a check or
// an action, and a key without one gets neither.
func TestHooks(t *testing.T) {
	s := newSession(Options{})
	impl := s.hooks()
	used := map[config.Hook]bool{}
	for _, q := range s.qs {
		t.Run(q.String(), func(t *testing.T) {
			has := q.check != nil || q.after != nil
			if _, ok := impl[q.Hook]; q.Hook != config.NoHook && !ok {
				t.Fatalf("hook %d not implemented", q.Hook)
			}
			if has != (q.Hook != config.NoHook) {
				t.Errorf("hook %d, check or action: %v", q.Hook, has)
			}
		})
		used[q.Hook] = true
	}
	for h := range impl {
		if !used[h] {
			t.Errorf("hook %d implemented but no key names it", h)
		}
	}
}
