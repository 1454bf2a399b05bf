package event

// The Kafka record headers: which ones Decode reads and how the Kafka
// protocol binding of CloudEvents picks the mode from them.

import (
	"mime"
	"strings"
)

// Header is a Kafka record header, decoupled from any client library.
type Header struct {
	Key   string
	Value []byte
}

// recordHeaders holds the record headers Decode reads; the rest are ignored.
type recordHeaders struct {
	val  [numHeaders]string
	seen [numHeaders]bool
}

const (
	hContentType = iota
	hSpecVersion
	hID
	hSource
	hType
	hTime
	numHeaders
)

func headerName(i int) string {
	return [numHeaders]string{
		headerContentType,
		headerPrefix + ceSpecVersion,
		headerPrefix + ceID,
		headerPrefix + ceSource,
		headerPrefix + ceType,
		headerPrefix + ceTime,
	}[i]
}

// scanHeaders picks out content-type and the ce_* attributes Decode reads.
// Names compare case-insensitively (ASCII only): Kafka header names are
// case-sensitive, but producers write Content-Type as often as
// content-type. A repeated header is rejected, since which copy wins would
// be a guess.
func scanHeaders(hdrs []Header) (recordHeaders, *DecodeError) {
	var hs recordHeaders
	for _, h := range hdrs {
		for i := range numHeaders {
			if !asciiEqualFold(h.Key, headerName(i)) {
				continue
			}
			if hs.seen[i] {
				return hs, reject(ReasonMalformed, headerName(i), "header is repeated")
			}
			hs.seen[i] = true
			hs.val[i] = string(h.Value)
			break
		}
	}
	return hs, nil
}

// mode applies the Kafka protocol binding: a CloudEvents content type means
// structured mode, whatever else is there; otherwise ce_specversion means
// binary mode. An empty content-type counts as none.
func (hs *recordHeaders) mode() (mode, *DecodeError) {
	if ct := hs.val[hContentType]; hs.seen[hContentType] && ct != "" {
		mt, derr := mediaType(ct, headerContentType)
		if derr != nil {
			return 0, derr
		}
		switch {
		case mt == mediaCloudEvent:
			return modeStructured, nil
		case mt == mediaCEBatch:
			return 0, reject(ReasonUnsupported, headerContentType, "batch mode is not supported")
		case strings.HasPrefix(mt, "application/cloudevents"):
			return 0, reject(ReasonUnsupported, headerContentType, "only the JSON event format is supported")
		case mt != mediaJSON:
			return 0, reject(ReasonUnsupported, headerContentType, "must be application/json or application/cloudevents+json")
		}
	}
	if hs.seen[hSpecVersion] {
		return modeBinary, nil
	}
	// A producer that sets some ce_* attributes but forgets ce_specversion
	// means binary mode; reading its value as plain JSON would fail with a
	// misleading "event_id missing".
	for _, i := range []int{hID, hSource, hType, hTime} {
		if hs.seen[i] {
			return 0, reject(ReasonMissingField, headerName(hSpecVersion), "required with other ce_ headers")
		}
	}
	return modeAuto, nil
}

// mediaType parses a content type; a charset other than UTF-8 is
// unsupported since JSON is UTF-8.
func mediaType(v, field string) (string, *DecodeError) {
	mt, params, err := mime.ParseMediaType(v)
	if err != nil {
		return "", reject(ReasonUnsupported, field, "not a valid media type")
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return "", reject(ReasonUnsupported, field, "charset must be utf-8")
	}
	return mt, nil
}

func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		ca, cb := a[i], b[i]
		if 'A' <= ca && ca <= 'Z' {
			ca += 'a' - 'A'
		}
		if 'A' <= cb && cb <= 'Z' {
			cb += 'a' - 'A'
		}
		if ca != cb {
			return false
		}
	}
	return true
}
