/* Deadlines for the checks: one monotonic clock and a poll that stops at
 * an absolute deadline.  Compiled into each plugin that uses it. */
#ifndef PHD_DEADLINE_H
#define PHD_DEADLINE_H

/* CLOCK_MONOTONIC milliseconds: the clock of every deadline. */
long long phd_dl_now_ms(void);
/* Milliseconds left before deadline (0 when past). */
long long phd_dl_left_ms(long long deadline);
/* Wait for events on fd until deadline: 1 ready, 0 deadline passed, -1
 * poll failed. */
int phd_dl_wait(int fd, short events, long long deadline);

#endif
