package store

import (
	"context"
	"fmt"
	"time"
)

// Report buckets.
const (
	BucketHour = "hour"
	BucketDay  = "day"
)

// TimeCount is how many things happened in one bucket (its start, UTC).
type TimeCount struct {
	Start time.Time
	Count int64
}

// bucketExpr is the SQL that turns a timestamp column into a bucket key
// ("2026-03-01" or "2026-03-01T12", UTC) and the layout that parses it.
func (s *Store) bucketExpr(col, bucket string) (string, string, error) {
	switch {
	case bucket == BucketDay && s.dialect == DialectPostgres:
		return "to_char(" + col + " AT TIME ZONE 'UTC', 'YYYY-MM-DD')", "2006-01-02", nil
	case bucket == BucketHour && s.dialect == DialectPostgres:
		return "to_char(" + col + " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24')", "2006-01-02T15", nil
	case bucket == BucketDay:
		return "strftime('%Y-%m-%d', " + col + ")", "2006-01-02", nil
	case bucket == BucketHour:
		return "strftime('%Y-%m-%dT%H', " + col + ")", "2006-01-02T15", nil
	}
	return "", "", fmt.Errorf("unknown bucket %q", bucket)
}

// countBy groups a journey's runs by the bucket of a timestamp column
// within the period.
func (s *Store) countBy(ctx context.Context, workspaceID, journeyID, col, bucket string, p Period) ([]TimeCount, error) {
	expr, layout, err := s.bucketExpr(col, bucket)
	if err != nil {
		return nil, err
	}
	var rows []struct {
		B     string
		Count int64
	}
	q := s.db.WithContext(ctx).Table("runs").Select(expr+" AS b, COUNT(*) AS count").
		Where("workspace_id = ? AND journey_id = ? AND "+col+" IS NOT NULL AND "+col+" >= ? AND "+col+" < ?",
			workspaceID, journeyID, p.From.UTC(), p.To.UTC())
	if err := q.Group("b").Order("b").Scan(&rows).Error; err != nil {
		return nil, dbErr(err, "counting runs over time")
	}
	out := make([]TimeCount, 0, len(rows))
	for _, r := range rows {
		t, err := time.Parse(layout, r.B)
		if err != nil {
			return nil, fmt.Errorf("reading bucket %q: %w", r.B, err)
		}
		out = append(out, TimeCount{Start: t, Count: r.Count})
	}
	return out, nil
}

// JourneyTimeline is a journey's entries (by entered_at) and conversions
// (by converted_at) per hour or day within the period (both bounds needed),
// every version. Buckets without any are left out.
type JourneyTimeline struct {
	Entries     []TimeCount
	Conversions []TimeCount
}

// JourneyTimeline counts entries and conversions per bucket ("hour", "day").
func (s *Store) JourneyTimeline(ctx context.Context, workspaceID, journeyID, bucket string, p Period) (JourneyTimeline, error) {
	var out JourneyTimeline
	var err error
	if out.Entries, err = s.countBy(ctx, workspaceID, journeyID, "entered_at", bucket, p); err != nil {
		return JourneyTimeline{}, err
	}
	if out.Conversions, err = s.countBy(ctx, workspaceID, journeyID, "converted_at", bucket, p); err != nil {
		return JourneyTimeline{}, err
	}
	return out, nil
}

// ChannelCount is how many messages of one channel (node kind) a journey
// sent in one status.
type ChannelCount struct {
	Channel string
	Status  string
	Count   int64
}

// JourneyMessageVolume counts a journey's messages by channel and status,
// created within the period (zero bounds are open).
func (s *Store) JourneyMessageVolume(ctx context.Context, workspaceID, journeyID string, p Period) ([]ChannelCount, error) {
	q := s.db.WithContext(ctx).Table("deliveries").Select("deliveries.channel AS channel, deliveries.status AS status, COUNT(*) AS count").
		Joins("JOIN runs ON runs.id = deliveries.run_id").
		Where("deliveries.workspace_id = ? AND runs.journey_id = ?", workspaceID, journeyID)
	if !p.From.IsZero() {
		q = q.Where("deliveries.created_at >= ?", p.From.UTC())
	}
	if !p.To.IsZero() {
		q = q.Where("deliveries.created_at < ?", p.To.UTC())
	}
	var out []ChannelCount
	if err := q.Group("deliveries.channel, deliveries.status").Order("deliveries.channel, deliveries.status").Scan(&out).Error; err != nil {
		return nil, dbErr(err, "counting messages by channel")
	}
	return out, nil
}

// VariantCount is, for one port of one split node, how many runs went
// through it and how many of those converted.
type VariantCount struct {
	NodeID    string
	Variant   string
	Runs      int64
	Converted int64
}

// JourneyVariants counts, for every split node of a journey version (0:
// every version), the runs that left through each variant and how many of
// them converted. A run that passes a split twice counts once per variant.
func (s *Store) JourneyVariants(ctx context.Context, workspaceID, journeyID string, version int) ([]VariantCount, error) {
	q := s.db.WithContext(ctx).Table("run_steps").
		Select("run_steps.node_id AS node_id, run_steps.port AS variant, COUNT(DISTINCT runs.id) AS runs, "+
			"COUNT(DISTINCT CASE WHEN runs.converted_at IS NOT NULL THEN runs.id END) AS converted").
		Joins("JOIN runs ON runs.id = run_steps.run_id").
		Where("runs.workspace_id = ? AND runs.journey_id = ? AND run_steps.kind = ? AND run_steps.port <> ''", workspaceID, journeyID, "split")
	if version > 0 {
		q = q.Where("runs.version = ?", version)
	}
	var out []VariantCount
	if err := q.Group("run_steps.node_id, run_steps.port").Order("run_steps.node_id, run_steps.port").Scan(&out).Error; err != nil {
		return nil, dbErr(err, "counting split variants")
	}
	return out, nil
}
