/* Deadlines for the checks; see deadline.h. */
#include "deadline.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <time.h>

long long phd_dl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long phd_dl_left_ms(long long deadline)
{
	long long left = deadline - phd_dl_now_ms();

	return left > 0 ? left : 0;
}

int phd_dl_wait(int fd, short events, long long deadline)
{
	for (;;) {
		long long left = phd_dl_left_ms(deadline);
		struct pollfd pfd = { fd, events, 0 };
		int n;

		if (left <= 0)
			return 0;
		n = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (n > 0)
			return 1;
		if (n == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}
