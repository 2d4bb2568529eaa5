package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/waymarkhq/waymark/connectors"
)

// TaskEraseAudiences removes a profile from every ad audience of its
// workspace: queued when the profile is erased, and when a write takes its
// ad consent away (internal/profiles). Removal needs no consent.
const TaskEraseAudiences = "profile:erase_audiences"

// The payload carries the identifiers because the profile row may no
// longer have them when the task runs (erased, or changed by the write
// that withdrew consent); after an erasure the task is the only copy left,
// and Asynq deletes it on success.
type eraseAudiencesPayload struct {
	WorkspaceID string `json:"workspace_id"`
	ProfileID   string `json:"profile_id"`
	Email       string `json:"email,omitempty"`
	Phone       string `json:"phone,omitempty"`
}

// QueueAudienceErasure returns a function that queues TaskEraseAudiences
// (retried with backoff until every audience connector succeeds). While a
// profile's task waits, queueing another for it is a no-op.
func QueueAudienceErasure(enq Enqueuer) func(ctx context.Context, workspaceID string, m connectors.Member) error {
	return func(ctx context.Context, workspaceID string, m connectors.Member) error {
		payload, err := json.Marshal(eraseAudiencesPayload{WorkspaceID: workspaceID, ProfileID: m.ProfileID, Email: m.Email, Phone: m.Phone})
		if err != nil {
			return err
		}
		_, err = enq.EnqueueContext(ctx, asynq.NewTask(TaskEraseAudiences, payload), asynq.Queue(QueueDefault), asynq.MaxRetry(20),
			asynq.TaskID("erase:"+m.ProfileID), asynq.Timeout(5*time.Minute))
		if err == asynq.ErrTaskIDConflict {
			return nil
		}
		return err
	}
}

// AudienceEraser is the connectors' side of erasure and withdrawal.
type AudienceEraser interface {
	EraseFromAudiences(ctx context.Context, workspaceID string, m connectors.Member) error
}

// AudienceErasureHandler handles TaskEraseAudiences.
type AudienceErasureHandler struct{ Conns AudienceEraser }

// ProcessTask implements asynq.Handler.
func (h AudienceErasureHandler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	var p eraseAudiencesPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("decoding %s payload: %v: %w", TaskEraseAudiences, err, asynq.SkipRetry)
	}
	return h.Conns.EraseFromAudiences(ctx, p.WorkspaceID, connectors.Member{ProfileID: p.ProfileID, Email: p.Email, Phone: p.Phone})
}
