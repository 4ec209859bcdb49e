// Types for the aws-sdk-client-mock matchers registered in setup.ts.
import 'aws-sdk-client-mock-vitest/extend';
