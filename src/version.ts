/** The service's version: the OpenAPI document and CEF's Device Version carry it. Keep it equal to package.json. */
export const SERVICE_VERSION = '0.1.0'
