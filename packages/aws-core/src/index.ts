export * from './clients.ts';
export * from './config.ts';
export * from './custom-resource.ts';
export * from './errors.ts';
export * from './lifecycle.ts';
export * from './observability.ts';
export * from './retry.ts';
export * from './tags.ts';
