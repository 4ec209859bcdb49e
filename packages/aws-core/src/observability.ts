import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import { Tracer } from '@aws-lambda-powertools/tracer';

/** The logging surface core functions need; Powertools' Logger satisfies it. */
export interface Logger {
  debug(message: string, ...extra: Record<string, unknown>[]): void;
  info(message: string, ...extra: Record<string, unknown>[]): void;
  warn(message: string, ...extra: Record<string, unknown>[]): void;
  error(message: string, ...extra: Record<string, unknown>[]): void;
}

/** A logger that drops everything, for tests and for callers that pass none. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

interface Observability {
  logger: PowertoolsLogger;
  tracer: Tracer;
}

/** Powertools Logger and Tracer, built once per package at module scope (POWERTOOLS_* variables apply). */
export function createObservability(serviceName: string): Observability {
  const logger = new PowertoolsLogger({ serviceName });
  const tracer = new Tracer({ serviceName });
  return { logger, tracer };
}
