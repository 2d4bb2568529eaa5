package uitest

const ExplorerJourney = `{"format": 1, "name": "Explorer <b>", "settings": {"reentry": "always"}, "nodes": [
	{"id": "start", "kind": "trigger_event", "config": {"event": "signed_up"}},
	{"id": "cond", "kind": "condition", "title": "Group X?", "config": {"expr": "event.properties.group == \"x\""}},
	{"id": "hello", "kind": "send_email", "config": {"connector": "sandbox", "subject": "Hi", "body": "<p>Hi</p>"}},
	{"id": "late", "kind": "send_email", "config": {"connector": "flaky", "subject": "Late", "body": "<p>Late</p>"}},
	{"id": "done", "kind": "exit"}],
	"edges": [{"from": "start", "to": "cond"}, {"from": "cond", "port": "yes", "to": "hello"}, {"from": "cond", "port": "no", "to": "late"},
	{"from": "hello", "port": "out", "to": "done"}, {"from": "late", "port": "out", "to": "done"}]}`
