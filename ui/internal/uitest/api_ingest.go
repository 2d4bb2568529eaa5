package uitest

// eventJourney is a live journey entered by "signed_up" that waits for "paid".
const EventJourney = `{"format": 1, "name": "Events", "settings": {"reentry": "always"}, "nodes": [
	{"id": "start", "kind": "trigger_event", "config": {"event": "signed_up", "filter": "event.properties.plan != \"spam\""}},
	{"id": "wait", "kind": "wait_event", "config": {"event": "paid", "timeout": "1d"}},
	{"id": "thanks", "kind": "send_email", "config": {"connector": "sandbox", "subject": "Thanks", "body": "<p>Thanks</p>"}}],
	"edges": [{"from": "start", "to": "wait"}, {"from": "wait", "port": "matched", "to": "thanks"}]}`
