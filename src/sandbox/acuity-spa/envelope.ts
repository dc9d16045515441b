/** The error body of the official Acuity API: `{status_code, error, message}`. */
export interface SpaErrorEnvelope {
  status_code: number;
  error: string;
  message: string;
}

/** An error body with HTTP `status`, machine `error` code and human `message`. */
export function errorEnvelope(status: number, error: string, message: string): SpaErrorEnvelope {
  return { status_code: status, error, message };
}
