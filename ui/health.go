package ui

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"
)

func (s *Server) healthz(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "ok"})
}

// readyz answers 200 when every dependency answers, 503 otherwise, naming
// what failed (without connection strings).
func (s *Server) readyz(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	checks := fiber.Map{}
	status := "ok"
	for _, ch := range s.checks {
		if err := ch.Fn(ctx); err != nil {
			checks[ch.Name] = "unavailable"
			status = "unavailable"
			continue
		}
		checks[ch.Name] = "ok"
	}
	if status != "ok" {
		c.Status(fiber.StatusServiceUnavailable)
	}
	return c.JSON(fiber.Map{"status": status, "checks": checks})
}
