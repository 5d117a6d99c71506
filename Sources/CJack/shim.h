#ifndef TIMBRE_CJACK_H
#define TIMBRE_CJACK_H
#include <jack/jack.h>
#include <jack/transport.h>
#include <jack/midiport.h>
#include <stddef.h>

// jack_client_open is variadic, which Swift cannot call: pass the server name (or NULL) here.
static inline jack_client_t *timbre_jack_client_open(const char *name, jack_options_t options,
                                                     jack_status_t *status, const char *server) {
    if (server != NULL) {
        return jack_client_open(name, (jack_options_t)(options | JackServerName), status, server);
    }
    return jack_client_open(name, options, status);
}

// JACK_DEFAULT_AUDIO_TYPE and JACK_DEFAULT_MIDI_TYPE are macros.
static inline const char *timbre_jack_audio_type(void) { return JACK_DEFAULT_AUDIO_TYPE; }

// The few fields of jack_position_t a sequencer follows (the struct itself carries padding and
// fields that change between JACK versions). Real-time safe, as jack_transport_query is.
typedef struct {
    int rolling;
    jack_nframes_t frame;
    int has_bbt;
    double beat;  // beats from the start: (bar - 1) * beats_per_bar + (beat - 1) + tick / ticks_per_beat
    double bpm;
} timbre_jack_transport_t;

static inline void timbre_jack_transport_query(jack_client_t *client, timbre_jack_transport_t *out) {
    jack_position_t position;
    jack_transport_state_t state = jack_transport_query(client, &position);
    out->rolling = state == JackTransportRolling;
    out->frame = position.frame;
    out->has_bbt = (position.valid & JackPositionBBT) != 0 && position.beats_per_minute > 0;
    out->beat = out->has_bbt ? (position.bar - 1) * (double)position.beats_per_bar + (position.beat - 1)
                                   + (position.ticks_per_beat > 0 ? position.tick / position.ticks_per_beat : 0)
                             : 0;
    out->bpm = out->has_bbt ? position.beats_per_minute : 0;
}
static inline const char *timbre_jack_midi_type(void) { return JACK_DEFAULT_MIDI_TYPE; }

// A timebase master at a constant tempo (what a DAW or a tempo source is to timbre): JACK calls
// this in the master's process cycle, and it fills bar, beat and tick from the position's frame.
// `arg` points to two doubles, beats per minute and beats per bar (an integer), set before the
// callback is installed and left unchanged (the caller keeps them alive while it is master).
static inline void timbre_jack_constant_tempo(jack_transport_state_t state, jack_nframes_t nframes,
                                              jack_position_t *pos, int new_pos, void *arg) {
    (void)state; (void)nframes; (void)new_pos;
    const double *tempo = (const double *)arg;
    double bpm = tempo[0], per_bar = tempo[1];
    double beats = pos->frame_rate > 0 ? (double)pos->frame / pos->frame_rate * bpm / 60.0 : 0;
    long whole = (long)beats;
    pos->valid = JackPositionBBT;
    pos->beats_per_minute = bpm;
    pos->beats_per_bar = (float)per_bar;
    pos->beat_type = 4;
    pos->ticks_per_beat = 1920;
    pos->bar = (int32_t)(whole / (long)per_bar) + 1;
    pos->beat = (int32_t)(whole % (long)per_bar) + 1;
    pos->tick = (int32_t)((beats - (double)whole) * 1920);
    pos->bar_start_tick = (double)(pos->bar - 1) * per_bar * 1920;
}

// Makes `client` the timebase master at the tempo `arg` points to (see above); 0 on success.
static inline int timbre_jack_set_constant_tempo(jack_client_t *client, double *tempo) {
    return jack_set_timebase_callback(client, 0, timbre_jack_constant_tempo, tempo);
}

// One MIDI event of a port's buffer this cycle, its first three bytes copied out (the
// channel messages timbre reads are at most three bytes): the time in frames from the
// cycle's start, the byte count, and the bytes (0 past the count). Returns 0 on success.
static inline int timbre_jack_midi_event(void *buffer, uint32_t index, uint32_t *time, uint32_t *size,
                                         unsigned char bytes[3]) {
    jack_midi_event_t event;
    int result = jack_midi_event_get(&event, buffer, index);
    if (result != 0) return result;
    *time = event.time;
    *size = (uint32_t)event.size;
    for (int i = 0; i < 3; i++) bytes[i] = (size_t)i < event.size ? event.buffer[i] : 0;
    return 0;
}
#endif
