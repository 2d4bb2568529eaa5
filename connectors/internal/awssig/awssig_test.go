package awssig_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/connectors/internal/awssig"
)

// AWS's published Signature Version 4 test suite (aws-sig-v4-test-suite):
// credentials AKIDEXAMPLE, region us-east-1, service "service", at
// 20150830T123600Z, requests to example.amazonaws.com.
var (
	suiteCreds = awssig.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}
	suiteScope = awssig.Scope{Region: "us-east-1", Service: "service"}
	suiteTime  = time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC)
)

func TestSuiteVectors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, method, target, signature string
	}{
		{"get-vanilla", "GET", "/", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
		{"get-vanilla-query-order-key-case", "GET", "/?Param2=value2&Param1=value1", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
		{"get-utf8", "GET", "/%E1%88%B4", "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"},
		{"post-vanilla", "POST", "/", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, "https://example.amazonaws.com"+tc.target, nil)
			req.Host = "example.amazonaws.com"
			require.NoError(t, awssig.Sign(req, nil, suiteCreds, suiteScope, suiteTime))
			require.Equal(t, "20150830T123600Z", req.Header.Get("X-Amz-Date"))
			require.Equal(t, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature="+tc.signature,
				req.Header.Get("Authorization"))
		})
	}
}

func TestSuiteCanonicalRequest(t *testing.T) {
	t.Parallel()
	req := httptest.NewRequest("GET", "https://example.amazonaws.com/", nil)
	h := http.Header{"Host": {"example.amazonaws.com"}, "X-Amz-Date": {"20150830T123600Z"}}
	canonical, signed := awssig.CanonicalRequest("GET", req.URL, h, []string{"Host", "X-Amz-Date"}, awssig.HashHex(nil))
	// get-vanilla.creq
	require.Equal(t, "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", canonical)
	require.Equal(t, "host;x-amz-date", signed)
	// get-vanilla.sts
	require.Equal(t, "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\nbb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
		awssig.StringToSign(suiteTime, suiteScope, canonical))
}

func TestSignsContentTypeAndToken(t *testing.T) {
	t.Parallel()
	req := httptest.NewRequest("POST", "https://email.eu-west-1.amazonaws.com/v2/email/outbound-emails", nil)
	req.Host = "email.eu-west-1.amazonaws.com"
	req.Header.Set("Content-Type", "application/json")
	creds := suiteCreds
	creds.SessionToken = "tok en"
	require.NoError(t, awssig.Sign(req, []byte(`{}`), creds, awssig.Scope{Region: "eu-west-1", Service: "ses"}, suiteTime))
	a, err := awssig.ParseAuthorization(req.Header.Get("Authorization"))
	require.NoError(t, err)
	require.Equal(t, []string{"content-type", "host", "x-amz-date", "x-amz-security-token"}, a.SignedHeaders)
	require.Equal(t, awssig.Scope{Region: "eu-west-1", Service: "ses"}, a.Scope)
	require.Equal(t, "tok en", req.Header.Get("X-Amz-Security-Token"))
	// A different body gives a different signature.
	req2 := req.Clone(req.Context())
	require.NoError(t, awssig.Sign(req2, []byte(`{"a":1}`), creds, awssig.Scope{Region: "eu-west-1", Service: "ses"}, suiteTime))
	require.NotEqual(t, req.Header.Get("Authorization"), req2.Header.Get("Authorization"))
	require.Error(t, awssig.Sign(req, nil, awssig.Credentials{}, suiteScope, suiteTime))
	_, err = awssig.ParseAuthorization("Bearer x")
	require.Error(t, err)
}
