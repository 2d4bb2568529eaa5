// Package embedredis runs an in-process Redis-compatible server (miniredis)
// for Waymark's embedded mode, so `waymark serve` needs nothing installed.
//
// miniredis keeps nothing on disk and only expires keys when told to, so a
// ticker advances its clock every second (Asynq's lease and heartbeat keys
// rely on expiry). Losing it loses the schedule, never the truth: the
// database holds every run and the reconciler re-enqueues work at start.
package embedredis

import (
	"fmt"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// Server is a running embedded Redis.
type Server struct {
	m    *miniredis.Miniredis
	stop chan struct{}
	once sync.Once
	wg   sync.WaitGroup
}

// Start listens on a random loopback port.
func Start() (*Server, error) {
	m := miniredis.NewMiniRedis()
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("starting embedded Redis: %w", err)
	}
	s := &Server{m: m, stop: make(chan struct{})}
	s.wg.Add(1)
	go s.expire()
	return s, nil
}

func (s *Server) expire() {
	defer s.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			s.m.FastForward(now.Sub(last))
			last = now
		}
	}
}

// Addr is host:port to dial.
func (s *Server) Addr() string { return s.m.Addr() }

// URL is a redis:// URL for the server.
func (s *Server) URL() string { return "redis://" + s.m.Addr() }

// Close stops the server; its data is gone.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.stop)
		s.wg.Wait()
		s.m.Close()
	})
}
