/** Path of the booking XHRs: the appointment POST and the lookup GET. The site logs every call to it. */
export const APPOINTMENTS_PATH = '/api/scheduling/v1/appointments';

/** Whether `url` (path plus optional query) is a booking XHR. */
export function isBookingXhr(url: string): boolean {
  return url.split('?')[0] === APPOINTMENTS_PATH;
}
