package uitest

import ()

const HookJourney = `{"format": 1, "name": "Hooked", "settings": {"reentry": "never"}, "nodes": [
	{"id": "start", "kind": "trigger_webhook", "config": {"profile_id": "event.body.user.id", "email": "event.body.user.email"}},
	{"id": "hello", "kind": "send_email", "config": {"connector": "sandbox", "subject": "Hi", "body": "<p>{{ event.body.plan }}</p>"}}],
	"edges": [{"from": "start", "to": "hello"}]}`

// eventJourney is a live journey entered by "signed_up" that waits for "paid".
const EventJourney = `{"format": 1, "name": "Events", "settings": {"reentry": "always"}, "nodes": [
	{"id": "start", "kind": "trigger_event", "config": {"event": "signed_up", "filter": "event.properties.plan != \"spam\""}},
	{"id": "wait", "kind": "wait_event", "config": {"event": "paid", "timeout": "1d"}},
	{"id": "thanks", "kind": "send_email", "config": {"connector": "sandbox", "subject": "Thanks", "body": "<p>Thanks</p>"}}],
	"edges": [{"from": "start", "to": "wait"}, {"from": "wait", "port": "matched", "to": "thanks"}]}`

// personalJourney enters from a webhook, writes an attribute from the body
// and sends an email whose subject is rendered from the profile.
const PersonalJourney = `{"format": 1, "name": "Personal", "settings": {"reentry": "always"}, "nodes": [
	{"id": "start", "kind": "trigger_webhook", "config": {"profile_id": "event.body.user.id", "email": "event.body.user.email"}},
	{"id": "note", "kind": "update_profile", "config": {"assignments": [{"attribute": "diagnosis", "expr": "event.body.diagnosis"}]}},
	{"id": "hello", "kind": "send_email", "config": {"connector": "sandbox", "subject": "Your {{ profile.diagnosis }} plan", "body": "<p>Hi</p>"}}],
	"edges": [{"from": "start", "to": "note"}, {"from": "note", "to": "hello"}]}`

const PlanV1 = `{"format": 1, "name": "Plan", "settings": {"reentry": "always", "timezone": "UTC"},
  "nodes": [
    {"id": "start", "kind": "trigger_event", "config": {"event": "signup"}},
    {"id": "wait", "kind": "delay", "title": "Wait a day", "config": {"duration": "1d"}},
    {"id": "hello", "kind": "send_email", "config": {"connector": "sandbox", "subject": "Hi", "body": "x"}}
  ],
  "edges": [{"from": "start", "to": "wait"}, {"from": "wait", "to": "hello"}]}`

// v2 replaces "wait" by "wait2d".
const PlanV2 = `{"format": 1, "name": "Plan", "settings": {"reentry": "always", "timezone": "UTC"},
  "nodes": [
    {"id": "start", "kind": "trigger_event", "config": {"event": "signup"}},
    {"id": "wait2d", "kind": "delay", "title": "Wait two days", "config": {"duration": "2d"}},
    {"id": "hello", "kind": "send_email", "config": {"connector": "sandbox", "subject": "Hi", "body": "x"}}
  ],
  "edges": [{"from": "start", "to": "wait2d"}, {"from": "wait2d", "to": "hello"}]}`

const ExplorerJourney = `{"format": 1, "name": "Explorer <b>", "settings": {"reentry": "always"}, "nodes": [
	{"id": "start", "kind": "trigger_event", "config": {"event": "signed_up"}},
	{"id": "cond", "kind": "condition", "title": "Group X?", "config": {"expr": "event.properties.group == \"x\""}},
	{"id": "hello", "kind": "send_email", "config": {"connector": "sandbox", "subject": "Hi", "body": "<p>Hi</p>"}},
	{"id": "late", "kind": "send_email", "config": {"connector": "flaky", "subject": "Late", "body": "<p>Late</p>"}},
	{"id": "done", "kind": "exit"}],
	"edges": [{"from": "start", "to": "cond"}, {"from": "cond", "port": "yes", "to": "hello"}, {"from": "cond", "port": "no", "to": "late"},
	{"from": "hello", "port": "out", "to": "done"}, {"from": "late", "port": "out", "to": "done"}]}`
