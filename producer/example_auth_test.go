package producer_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/kprod/kprod/producer"
)

// OAUTHBEARER with tokens from your identity provider: the producer keeps
// the last token and asks for a new one before it expires. (New contacts
// no broker; the first Send would.)
func ExampleWithOAuthBearer() {
	fetch := func(ctx context.Context) (producer.OAuthBearerToken, error) {
		// Call the identity provider here, bounded by ctx.
		return producer.OAuthBearerToken{
			Token:  "eyJhbGciOi...",
			Expiry: time.Now().Add(time.Hour),
		}, nil
	}
	p, err := producer.New(
		producer.WithBrokers("broker-1.example:9093"),
		// producer.WithTLS(...) too for SASL_SSL, as production needs.
		producer.WithOAuthBearer(fetch),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close(context.Background())
	fmt.Println("configured")
	// Output: configured
}

// AWS_MSK_IAM with credentials from any source, for example the AWS SDK's
// credential chain (aws.Config.Credentials.Retrieve) in your own module.
func ExampleWithAWSMSKIAM() {
	creds := func(ctx context.Context) (producer.AWSCredentials, error) {
		return producer.AWSCredentials{
			AccessKeyID:     os.Getenv("AWS_ACCESS_KEY_ID"),
			SecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY"),
			SessionToken:    os.Getenv("AWS_SESSION_TOKEN"),
		}, nil
	}
	p, err := producer.New(
		producer.WithBrokers("b-1.mycluster.abc123.c2.kafka.eu-west-1.amazonaws.com:9098"),
		// producer.WithTLS(...): MSK's IAM listener (port 9098) is TLS.
		producer.WithAWSMSKIAM(creds),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close(context.Background())
	fmt.Println("configured")
	// Output: configured
}

// A Java client configuration for OAUTHBEARER with the client_credentials
// grant loads unchanged.
func ExampleWithProperties_oauthBearer() {
	p, err := producer.New(producer.WithProperties(map[string]string{
		"bootstrap.servers":                   "broker-1.example:9093",
		"security.protocol":                   "SASL_SSL",
		"sasl.mechanism":                      "OAUTHBEARER",
		"sasl.login.callback.handler.class":   "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler",
		"sasl.oauthbearer.token.endpoint.url": "https://idp.example/oauth2/token",
		"sasl.jaas.config": "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required " +
			`clientId="orders-service" clientSecret="s3cret" scope="kafka";`,
		"sasl.login.refresh.buffer.seconds": "120",
	}))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close(context.Background())
	fmt.Println("configured")
	// Output: configured
}
