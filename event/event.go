// Package event defines the user-deleted event that erasured consumes: what
// it carries and how its fields are named on the wire.
package event

import "time"

// DefaultTopic is the topic user-deleted events arrive on, unless
// configured otherwise.
const DefaultTopic = "user-deleted"

// UserIDField is the identifier name that resolves to UserDeleted.UserID.
// Vendor adapters that key profiles by the upstream user id are configured
// with it.
const UserIDField = "user_id"

// UserDeleted says that a person deleted their account and every vendor must
// forget them.
type UserDeleted struct {
	// EventID is unique per event; logs and dead-letter records name it.
	EventID string `json:"event_id"`
	// UserID is the upstream account id. It is also the Kafka key, so
	// events for one person stay in one partition and in order.
	UserID string `json:"user_id"`
	// OccurredAt is when the person deleted the account.
	OccurredAt time.Time `json:"occurred_at"`
	// Identifiers carries what each vendor knows the person by, keyed by
	// identifier name (for example "plivo_profile_uuid",
	// "clevertap_identity"). Which name a vendor reads is configuration.
	Identifiers map[string]string `json:"identifiers,omitempty"`
}

// Identifier returns the value of the named identifier, or "" when the event
// does not carry it. UserIDField names the event's UserID.
func (e *UserDeleted) Identifier(name string) string {
	if name == UserIDField {
		return e.UserID
	}
	return e.Identifiers[name]
}
