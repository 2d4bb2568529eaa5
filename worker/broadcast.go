package worker

import (
	"fmt"
	"time"

	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/store"
)

// OnceTick is the single tick of a schedule trigger in mode "once" (a
// broadcast, docs/broadcasts.md): its time, due once now has reached it.
// The tick is claimed like any schedule tick (trigger_runs), so it runs
// once, resumably, and never again once done.
func OnceTick(cfg nodes.Config, now time.Time) (time.Time, string, bool, error) {
	at, err := time.Parse(time.RFC3339, cfg.String("at"))
	if err != nil {
		return time.Time{}, "", false, fmt.Errorf("at %q: %w", cfg.String("at"), err)
	}
	at = at.UTC()
	return at, store.TriggerSchedule, !now.Before(at), nil
}
