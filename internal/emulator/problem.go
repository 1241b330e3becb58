package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/free5gc/openapi/models"
)

// Application error causes. TS 29.122 §5.2.6 and TS 29.514 §5.7 both build on
// the common causes of TS 29.500 §5.2.7.2 (Table 5.2.7.2-1); the PCF-specific
// ones are from TS 29.514 §5.7.3 (Table 5.7.3-1).
const (
	// TS 29.500 Table 5.2.7.2-1.
	causeInvalidMsgFormat       = "INVALID_MSG_FORMAT"               // 400
	causeInvalidQueryParam      = "INVALID_QUERY_PARAM"              // 400
	causeMandatoryIEMissing     = "MANDATORY_IE_MISSING"             // 400
	causeMandatoryIEIncorrect   = "MANDATORY_IE_INCORRECT"           // 400
	causeOptionalIEIncorrect    = "OPTIONAL_IE_INCORRECT"            // 400
	causeModificationNotAllowed = "MODIFICATION_NOT_ALLOWED"         // 403
	causeSubscriptionNotFound   = "SUBSCRIPTION_NOT_FOUND"           // 404
	causeResourceURINotFound    = "RESOURCE_URI_STRUCTURE_NOT_FOUND" // 404
	causeInsufficientResources  = "INSUFFICIENT_RESOURCES"           // 500
	causeSystemFailure          = "SYSTEM_FAILURE"                   // 500
	causeNFCongestion           = "NF_CONGESTION"                    // 503
	causeTimedOutRequest        = "TIMED_OUT_REQUEST"                // 504

	// TS 29.514 Table 5.7.3-1.
	causeInvalidServiceInfo    = "INVALID_SERVICE_INFORMATION"           // 400
	causeFilterRestrictions    = "FILTER_RESTRICTIONS"                   // 400
	causeServiceNotAuthorized  = "REQUESTED_SERVICE_NOT_AUTHORIZED"      // 403
	causeAppSessionCtxNotFound = "APPLICATION_SESSION_CONTEXT_NOT_FOUND" // 404
)

const (
	contentTypeJSON       = "application/json"
	contentTypeProblem    = "application/problem+json"
	contentTypeMergePatch = "application/merge-patch+json"

	maxAPIBody   = 1 << 20
	maxAdminBody = 64 << 10

	// The emulator says what it is on every answer, so that nobody mistakes
	// it for a core.
	emulatorNote        = "medslice-core-emulator: a test double of a 5G core, not a 5G core"
	emulatorHeader      = "X-Core-Emulator"
	emulatorHeaderValue = "medslice-core-emulator; test double, not a 5G core"
)

// problem is an error answer before it is encoded in an API's own
// ProblemDetails flavour.
type problem struct {
	status  int
	cause   string
	detail  string
	invalid []models.InvalidParam
	// acceptable is the PCF's counter-offer on a 403 (TS 29.514
	// ExtendedProblemDetails.acceptableServInfo).
	acceptable *models.Pcf_PolAuth_AcceptableServiceInfo
}

func (p *problem) Error() string {
	return fmt.Sprintf("%d %s: %s", p.status, p.cause, p.detail)
}

func newProblem(status int, cause, format string, args ...any) *problem {
	return &problem{status: status, cause: cause, detail: fmt.Sprintf(format, args...)}
}

// violations collects what is wrong with a request body, so that one answer
// names every invalid attribute. The cause is the first violation's.
type violations struct {
	cause   string
	invalid []models.InvalidParam
}

// add records that the attribute at param (a JSON pointer, TS 29.571
// InvalidParam) is wrong for reason.
func (v *violations) add(cause, param, format string, args ...any) {
	if v.cause == "" {
		v.cause = cause
	}
	v.invalid = append(v.invalid, models.InvalidParam{Param: param, Reason: fmt.Sprintf(format, args...)})
}

// problem is the 400 answer for the violations, nil when there are none.
func (v *violations) problem() *problem {
	if len(v.invalid) == 0 {
		return nil
	}
	detail := v.invalid[0].Param + ": " + v.invalid[0].Reason
	if n := len(v.invalid); n > 1 {
		detail += fmt.Sprintf(" (and %d more in invalidParams)", n-1)
	}
	return &problem{status: http.StatusBadRequest, cause: v.cause, detail: detail, invalid: v.invalid}
}

// writeJSON writes a 3GPP body.
func writeJSON(w http.ResponseWriter, status int, contentType string, body any) {
	b, err := json.Marshal(body)
	if err != nil {
		http.Error(w, "encoding the answer: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeProblem writes p in the ProblemDetails flavour of api: TS 29.122
// ProblemDetails for NEF, TS 29.571 ProblemDetails for PCF, TS 29.514
// ExtendedProblemDetails for a PCF 403 (the only PCF answer that defines it).
func writeProblem(w http.ResponseWriter, api API, p *problem) {
	title := http.StatusText(p.status)
	switch {
	case api == APINEF:
		pd := models.Nef_ProblemDetails{Title: title, Status: int32(p.status), Detail: p.detail, Cause: p.cause}
		for _, ip := range p.invalid {
			pd.InvalidParams = append(pd.InvalidParams, models.Nef_InvalidParam{Param: ip.Param, Reason: ip.Reason})
		}
		writeJSON(w, p.status, contentTypeProblem, pd)
	case p.status == http.StatusForbidden:
		writeJSON(w, p.status, contentTypeProblem, models.Pcf_PolAuth_ExtendedProblemDetails{
			Title: title, Status: int32(p.status), Detail: p.detail, Cause: p.cause,
			InvalidParams: p.invalid, AcceptableServInfo: p.acceptable,
		})
	default:
		writeJSON(w, p.status, contentTypeProblem, models.ProblemDetails{
			Title: title, Status: int32(p.status), Detail: p.detail, Cause: p.cause, InvalidParams: p.invalid,
		})
	}
}

// requireContentType refuses a body of another media type (TS 29.500 §5.2.7:
// 415 Unsupported Media Type).
func requireContentType(r *http.Request, want string) *problem {
	got := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(got)
	if err != nil || !strings.EqualFold(mt, want) {
		p := newProblem(http.StatusUnsupportedMediaType, "", "Content-Type must be %s, got %q", want, got)
		p.invalid = []models.InvalidParam{{Param: "header Content-Type", Reason: "must be " + want}}
		return p
	}
	return nil
}

// decodeBody decodes a JSON body into v, refusing attributes v's type does
// not have and anything after the JSON value. The free5gc models are what
// medslice encodes with, so an unknown attribute is a client mistake worth
// surfacing, even though a real core might ignore it.
func decodeBody(body io.Reader, v any) *problem {
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			return newProblem(http.StatusRequestEntityTooLarge, "", "request body larger than %d bytes", tooBig.Limit)
		case errors.Is(err, io.EOF):
			return newProblem(http.StatusBadRequest, causeInvalidMsgFormat, "request body is empty")
		default:
			name := strings.TrimPrefix(fmt.Sprintf("%T", v), "*models.")
			return newProblem(http.StatusBadRequest, causeInvalidMsgFormat, "request body is not a valid %s: %v", name, err)
		}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return newProblem(http.StatusBadRequest, causeInvalidMsgFormat, "request body has data after the JSON value")
	}
	return nil
}
