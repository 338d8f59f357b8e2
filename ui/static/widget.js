// Shows the widget's times in the viewer's own time zone; the server can
// only write UTC, which stays in the tooltip.
'use strict';
const fmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
for (const el of document.querySelectorAll('time[datetime]')) {
  const d = new Date(el.getAttribute('datetime'));
  if (!isNaN(d)) el.textContent = fmt.format(d);
}
